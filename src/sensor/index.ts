export * from './batch-encoder.js';
export * from './sensor-server.js';
