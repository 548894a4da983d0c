export * from './alert-facts.js';
export * from './slack-message.js';
export * from './pagerduty-event.js';
export * from './alertmanager-alert.js';
