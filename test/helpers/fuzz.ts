/**
 * Shared settings of the fuzz suite. Each target runs a few seconds in `scripts/test`;
 * `FUZZ_RUNS=N` runs N cases per target instead (hours of fuzzing with a large N), and
 * `FUZZ_SEED=S` replays a reported failure. Every input that once crashed something is kept
 * in `test/fixtures/fuzz-corpus/<target>/` and replayed first, on every run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type fc from 'fast-check';

const CORPUS = fileURLToPath(new URL('../fixtures/fuzz-corpus/', import.meta.url));

/** Cases per target: `FUZZ_RUNS` when set (a positive integer), else `def`. */
export function fuzzRuns(def: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : def;
}

/** fast-check parameters for a target: its run count, `FUZZ_SEED` when set. */
export function fuzzParams<T>(def: number): fc.Parameters<T> {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: fuzzRuns(def), ...(Number.isInteger(seed) ? { seed } : {}) };
}

/** The kept inputs of one target (file name → bytes), sorted by name. */
export function corpus(target: string): Array<[string, Buffer]> {
  let names: string[];
  try {
    names = readdirSync(join(CORPUS, target)).sort();
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('.') && n !== 'README.md')
    .map((n) => [n, readFileSync(join(CORPUS, target, n))]);
}

/** Fails with what ran too long: a bound on the work one input may cost (generous; not a benchmark). */
export function withinMs<T>(ms: number, what: string, fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const took = performance.now() - t0;
  if (took > ms) throw new Error(`${what} took ${took.toFixed(0)} ms (bound ${ms} ms)`);
  return r;
}
