export * from './event-source.js';
export * from './source-buffer.js';
export * from './backoff.js';
export * from './grpc-transport.js';
export * from './proto-root.js';
export * from './replay-reader.js';
export * from './peregrine-sensor-source.js';
