export * from './compiled-rule.js';
export * from './output-format.js';
export * from './exception-builder.js';
export * from './ruleset-compiler.js';
export * from './engine.js';
