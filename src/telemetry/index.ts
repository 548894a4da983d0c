export * from './logger.js';
export * from './rate-limiter.js';
