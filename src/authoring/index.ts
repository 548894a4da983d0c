export * from './rule-test-file.js';
export * from './rule-test-runner.js';
export * from './rule-test-report.js';
