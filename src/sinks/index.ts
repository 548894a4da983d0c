export * from './alert-sink.js';
export * from './stream-sink.js';
export * from './http-sink.js';
export * from './http-sink-types.js';
export * from './formats/index.js';
export * from './folding-sink.js';
