export * from './cri-client.js';
export * from './container-meta-from-cri.js';
export * from './runtime-metadata.js';
export * from './event-enricher.js';
export * from './runtime-events.js';
