import { defineConfig } from 'vitest/config';

/** Long fuzzing runs (FUZZ_RUNS=N) may take hours; ordinary runs fail a test after a minute. */
const timeout = process.env.FUZZ_RUNS ? 24 * 3600_000 : 60_000;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: timeout,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
