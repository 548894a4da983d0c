/**
 * `npm run bench [-- --only NAME]`: prints one JSON object with every suite's numbers.
 * Suites run on one core, in this process, after a warm-up.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { FieldKeyTable, FlatEventDecoder, type SyscallEvent } from '../src/event/index.js';
import { Engine, loadRules } from '../src/engine/index.js';
import { FALCO_REFERENCE, FALCO_UPSTREAM_RULES } from '../src/defaults.js';
import { sourcesSuite } from './sources-bench.js';
import { sensorSuite } from './sensor-bench.js';
import { pipelineSuite } from './pipeline-bench.js';
import { alertsSuite } from './alerts-bench.js';
import { cliSuite } from './cli-bench.js';
import { k8sSuite } from './k8s-bench.js';
import { responseSuite } from './response-bench.js';

const UPSTREAM = FALCO_REFERENCE;
const RULES = FALCO_UPSTREAM_RULES;
const TRACES = [
  'sysdig-inspect__502Error',
  'libs__curl_google',
  'libs__sample',
  'falco__cat_write',
  'falco__open-multiple-files',
  'falco__connect_localhost',
  'libs__test_ipv6_client',
  'libs__single_ipv6_conn',
  'falco__syscall',
  'falco__ping_sendto',
];
const TARGET_EVENTS = 300_000;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A realistic mix: the real traces, repeated, with varied pids, names and paths. */
function buildLines(): string[] {
  const base: string[] = [];
  for (const t of TRACES)
    base.push(...readFileSync(`${UPSTREAM}traces/${t}.jsonl`, 'utf8').split('\n').filter(Boolean));
  const out: string[] = [];
  for (let round = 0; out.length < TARGET_EVENTS; round++) {
    for (const l of base) {
      if (out.length >= TARGET_EVENTS) break;
      out.push(
        round === 0
          ? l
          : l
              .replace(/"proc\.pid":(\d+)/, (_m, p: string) => `"proc.pid":${Number(p) + round}`)
              .replace(/"fd\.name":"\/tmp\//, `"fd.name":"/tmp/r${round}-`),
      );
    }
  }
  return out;
}

function engineSuite(): Record<string, number> {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const table = new FieldKeyTable();
  const load = loadRules(RULES, table);
  const compileMs = performance.now() - t0;
  if (!load.ok) throw new Error('upstream rules failed to load');
  const engine = new Engine(load, { ruleMatching: 'all', hostname: 'bench' });
  gc();
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 1024 / 1024;

  const lines = buildLines();
  const decoder = new FlatEventDecoder(table);
  const p0 = performance.now();
  const events: SyscallEvent[] = lines.map((l, i) => decoder.decodeLine(l, i + 1));
  const jsonParseEventsPerSec = events.length / ((performance.now() - p0) / 1000);

  let matches = 0;
  const onMatch = (): void => {
    matches++;
  };
  for (let i = 0; i < 3; i++) for (const e of events) engine.evaluate(e, onMatch); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const s = performance.now();
    for (const e of events) engine.evaluate(e, onMatch);
    runs.push(events.length / ((performance.now() - s) / 1000));
  }
  runs.sort((a, b) => a - b);
  return {
    eventsPerSec: Math.round(runs[2]),
    compileMs: Math.round(compileMs),
    heapMB: Math.round(heapMB * 10) / 10,
    events: events.length,
    jsonParseEventsPerSec: Math.round(jsonParseEventsPerSec),
    rules: engine.active.length,
    matchesPerPass: matches / 8,
  };
}

const SUITES: Record<string, () => Record<string, number> | Promise<Record<string, number>>> = {
  engine: engineSuite,
  sources: sourcesSuite,
  sensor: sensorSuite,
  pipeline: pipelineSuite,
  alerts: alertsSuite,
  cli: cliSuite,
  k8s: k8sSuite,
  response: responseSuite,
};

const { values } = parseArgs({ args: process.argv.slice(2), options: { only: { type: 'string' } } });
const result: Record<string, unknown> = {};
if (values.only) {
  const suite = SUITES[values.only];
  if (!suite) {
    process.stderr.write(`bench: unknown suite ${values.only}; suites: ${Object.keys(SUITES).join(', ')}\n`);
    process.exit(2);
  }
  result[values.only] = await suite();
} else {
  // Each suite in a fresh process: one suite's heap and JIT state must not skew the next.
  for (const n of Object.keys(SUITES)) {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--only', n], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) {
      process.stderr.write(`bench: suite ${n} failed (exit ${r.status})\n`);
      process.exit(1);
    }
    Object.assign(result, JSON.parse(r.stdout) as Record<string, unknown>);
  }
}
process.stdout.write(JSON.stringify(result) + '\n');
