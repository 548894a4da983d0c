export * from './logger.js';
export * from './rate-limiter.js';
export * from './agent-metrics.js';
export * from './health-server.js';
