import { defineConfig } from 'vitest/config';

/** Long fuzzing runs (FUZZ_RUNS=N) may take hours; ordinary runs fail a test after a minute. */
const timeout = process.env.FUZZ_RUNS ? 24 * 3600_000 : 60_000;

/**
 * Unit tests: no root, no kernel, no Debian packages, no Falco reference material; in-process
 * or the built CLI, loopback sockets at most. `npm run test:unit` runs them; `vitest run` (the
 * README's test command, through scripts/test) runs everything.
 */
const UNIT = [
  'src/**/*.test.ts',
  'test/rules-loading.test.ts',
  'test/rules-lint-explain.test.ts',
  'test/rules-test.test.ts',
  'test/pending-events.test.ts',
  'test/fuzz-rules.test.ts',
  'test/plugins-conformance.test.ts',
  'test/sink-delivery.test.ts',
  'test/sink-wrappers.test.ts',
  'test/sources-sensor.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: timeout,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT } },
    ],
  },
});
