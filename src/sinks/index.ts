export * from './alert-sink.js';
export * from './stream-sink.js';
