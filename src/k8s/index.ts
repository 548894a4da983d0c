export * from './kube-config.js';
export * from './resource-watch.js';
export * from './owner-resolver.js';
export * from './kube-metadata.js';
export * from './kube-pods.js';
