export * from './batch-encoder.js';
export * from './sensor-server.js';
export * from './bpftrace-program.js';
export * from './bpftrace-assembler.js';
export * from './bpftrace-capture.js';
export * from './process-table.js';
export * from './sensor-checks.js';
export * from './syscall-args.js';
