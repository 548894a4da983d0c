export * from './alert-sink.js';
export * from './stream-sink.js';
export * from './webhook-sink.js';
