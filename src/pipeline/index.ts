export * from './event-pipeline.js';
