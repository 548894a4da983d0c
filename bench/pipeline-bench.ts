import { startBenchServer } from './bench-child.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/index.js';
import { loadConfig } from '../src/config/index.js';
import { FALCO_UPSTREAM_RULES } from '../src/defaults.js';
import { deadlineIn } from '../src/lifecycle.js';

const RULES = FALCO_UPSTREAM_RULES;

export { RULES as UPSTREAM_RULES };

/** The sum of a counter's values (those with all of `labels`). */
export async function counter(agent: Agent, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await agent.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const wanted = (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return wanted.reduce((s, v) => s + Number(v.value), 0);
}

/** Quantile from the latency histogram's buckets (linear inside a bucket). */
async function quantile(agent: Agent, q: number): Promise<number> {
  const m = (await agent.metrics.registry.getMetricsAsJSON()).find(
    (x) => x.name === 'peregrine_pipeline_latency_seconds',
  );
  const buckets = (m?.values ?? [])
    .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_bucket'))
    .map((v) => ({ le: Number(v.labels.le), n: Number(v.value) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.n ?? 0;
  const target = total * q;
  let prevLe = 0;
  let prevN = 0;
  for (const b of buckets) {
    if (b.n >= target)
      return (
        (prevLe +
          ((target - prevN) / Math.max(1, b.n - prevN)) * ((Number.isFinite(b.le) ? b.le : prevLe * 2) - prevLe)) *
        1000
      );
    prevLe = b.le;
    prevN = b.n;
  }
  return NaN;
}

function agentFor(address: string, rules: readonly string[], out: string, extra = ''): Agent {
  return new Agent(
    loadConfig(
      `rules:\n  paths: [${rules.join(', ')}]\n  ruleMatching: all\nsources:\n  - type: sensor\n    address: ${address}\n    bufferEvents: 1048576\nsinks:\n  - type: file\n    path: ${out}\n${extra}metrics:\n  listen: 127.0.0.1:0\nlog:\n  level: silent\n`,
    ),
  );
}

/** Events/s end to end for `total` events served as fast as the agent takes them. */
export async function pipelineThroughput(
  total: number,
  rules: readonly string[] = RULES,
  extraSinks = '',
  kind = 'sensor',
): Promise<{ eventsPerSec: number; rssMB: number; agent: Agent }> {
  const srv = await startBenchServer([kind, String(total)]);
  const a = agentFor(srv.address, rules, '/dev/null', extraSinks);
  await a.start();
  let t0 = 0;
  let evaluated = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    evaluated = await counter(a, 'peregrine_events_evaluated_total');
    if (evaluated > 0 && t0 === 0) t0 = performance.now();
    if (evaluated >= total - 1024) break;
  }
  const eventsPerSec = Math.round(evaluated / ((performance.now() - t0) / 1000));
  const rssMB = Math.round(process.memoryUsage().rss / 1024 / 1024);
  await a.shutdown(deadlineIn(3_000));
  srv.kill();
  return { eventsPerSec, rssMB, agent: a };
}

/**
 * The daemon end to end: our sensor API from a local gRPC server (another process) → sensor
 * source → RxJS pipeline → all three upstream rule files → file sink.
 */
export async function pipelineSuite(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-bench-'));
  // throughput: as fast as the server sends
  const { eventsPerSec, rssMB } = await pipelineThroughput(1_000_000);
  // latency at 20,000 events/s: every open alerts (an extra rule), time from event to alert
  const all = join(dir, 'all-opens.yaml');
  writeFileSync(
    all,
    '- rule: Every event\n  desc: bench\n  condition: evt.type in (open, openat, execve, connect)\n  output: "%fd.name"\n  priority: debug\n',
  );
  const paced = await startBenchServer(['sensor-paced', String(100_000), '20000']);
  const b = agentFor(paced.address, [...RULES, all], process.env.PIPELINE_BENCH_SINK ?? join(dir, 'alerts.jsonl'));
  await b.start();
  while ((await counter(b, 'peregrine_events_evaluated_total')) < 99_000) await new Promise((r) => setTimeout(r, 100));
  const p50LatencyMs = Math.round((await quantile(b, 0.5)) * 100) / 100;
  const p99LatencyMs = Math.round((await quantile(b, 0.99)) * 100) / 100;
  await b.shutdown();
  paced.kill();
  return { eventsPerSec, p50LatencyMs, p99LatencyMs, rssMB };
}
