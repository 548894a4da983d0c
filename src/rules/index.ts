export * from './rule-items.js';
export * from './source-text.js';
export * from './rule-file-reader.js';
export * from './definitions.js';
export * from './rule-collector.js';
export * from './rule-sources.js';
