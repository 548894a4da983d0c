import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '../src/event/index.js';
import { buildSink } from '../src/sinks/index.js';
import { startBenchServer } from './bench-child.js';
import { counter, pipelineThroughput, UPSTREAM_RULES } from './pipeline-bench.js';

/** Alerts spread over workloads (distinct rule × workload × node: folding passes them all). */
const alert = (i: number): Alert => ({
  time: new Date().toISOString(),
  rule: 'Read sensitive file untrusted',
  priority: 'Warning',
  source: 'syscall',
  tags: ['filesystem', 'mitre_credential_access'],
  hostname: 'node-1',
  output: `Sensitive file opened for reading by non-trusted program | file=/etc/shadow process=cat${i} user=root`,
  output_fields: {
    'evt.time': 1_764_410_400_000_000_000n + BigInt(i),
    'fd.name': '/etc/shadow',
    'proc.name': `cat${i}`,
    'user.name': 'root',
    'k8s.ns.name': 'shop',
    'k8s.pod.name': `web-${i}`,
    'k8s.workload.name': `web-${i}`,
  },
});

/**
 * Alerts through every wrapper (filter, folding, delivery with its spool) to a webhook receiver
 * in another process that answers at once; producer paced to the sink's queue (it never spills
 * to disk here). Then the pipeline's throughput with a webhook sink whose receiver is down
 * (every match spooled) against the same pipeline without it.
 */
export async function alertsSuite(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-bench-'));
  const rx = await startBenchServer([], './webhook-receiver.js');
  const sink = buildSink(
    { type: 'webhook', url: rx.address, minPriority: 'Debug', aggregateSeconds: 60 },
    { name: 'bench', spoolDir: dir },
  );
  const received = async (): Promise<number> => (await rx.ask<{ count: number }>()).count;
  const produce = async (from: number, n: number): Promise<void> => {
    for (let i = from; i < from + n;) {
      while (sink.stats.queued < 800 && i < from + n) sink.write(alert(i++));
      await new Promise((r) => setImmediate(r));
    }
    while ((await received()) < from + n) await new Promise((r) => setTimeout(r, 5));
  };
  await produce(0, 5_000); // warm-up
  const n = 50_000;
  const t0 = performance.now();
  await produce(5_000, n);
  const alertsPerSec = Math.round(n / ((performance.now() - t0) / 1000));
  const spooled = sink.stats.spooled;
  await sink.shutdown();
  rx.kill();

  // the pipeline while a sink is down: one alert per connect event, every one spooled
  const connects = join(dir, 'connects.yaml');
  writeFileSync(
    connects,
    '- rule: Every connect\n  desc: bench\n  condition: evt.type = connect\n  output: "%proc.name %fd.name"\n  priority: warning\n',
  );
  const total = 1_000_000;
  const rules = [...UPSTREAM_RULES, connects];
  const downSink = [
    '  - type: webhook',
    '    url: http://127.0.0.1:9/down',
    '    aggregateSeconds: 0',
    '    maxAttempts: 1',
    'spool:',
    `  dir: ${join(dir, 'spool')}`,
    '',
  ].join('\n');
  // alternating runs, best of each: the first run in a process is slower (JIT), and this VM is noisy
  const base: number[] = [];
  const down: number[] = [];
  let spooledWhileDown = 0;
  for (let round = 0; round < 2; round++) {
    base.push((await pipelineThroughput(total, rules)).eventsPerSec);
    const d = await pipelineThroughput(total, rules, downSink);
    down.push(d.eventsPerSec);
    spooledWhileDown = await counter(d.agent, 'peregrine_alerts_total', { outcome: 'spooled' });
  }
  const pipelineEventsPerSec = Math.max(...base);
  const pipelineEventsPerSecSinkDown = Math.max(...down);
  return {
    alertsPerSec,
    spooledDuringRun: spooled,
    pipelineEventsPerSec,
    pipelineEventsPerSecSinkDown,
    sinkDownRatio: Math.round((pipelineEventsPerSecSinkDown / pipelineEventsPerSec) * 100) / 100,
    spooledWhileDown,
  };
}
