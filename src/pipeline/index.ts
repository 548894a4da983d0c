export * from './event-pipeline.js';
export * from './pending-events.js';
