export * from './agent.js';
export * from './rules-manager.js';
export * from './rbac.js';
export * from './rules-fetcher.js';
export * from './build-sinks.js';
export * from './responses-manager.js';
