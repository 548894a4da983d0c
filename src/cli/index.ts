export * from './cli.js';
export * from './cli-error.js';
