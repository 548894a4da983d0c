export * from './rule-test-file.js';
export * from './rule-test-runner.js';
export * from './rule-test-report.js';
export * from './tool-scope.js';
export * from './condition-explainer.js';
export * from './rule-linter.js';
