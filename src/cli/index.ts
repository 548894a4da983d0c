export * from './cli.js';
export * from './command.js';
