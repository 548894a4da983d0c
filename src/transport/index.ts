export * from './backoff.js';
export * from './grpc-transport.js';
export * from './proto-root.js';
export * from './wire-reader.js';
export * from './wire-writer.js';
export * from './grpc-method.js';
