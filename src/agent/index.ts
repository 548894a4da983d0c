export * from './agent.js';
export * from './rules-manager.js';
