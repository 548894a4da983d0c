export * from './replay-reader.js';
