import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../src/event/index.js';
import { DeliveringSink, DiskSpool, HttpTransport, type SinkObserver } from '../src/sinks/index.js';
import { HttpReceiver, freePort } from './helpers/http-receiver.js';
import { until } from './helpers/wait.js';
import { deadlineIn } from '../src/lifecycle.js';

const alert = (i: number): Alert => ({
  time: '2026-11-29T10:00:00.000000000Z',
  rule: `R${i}`,
  priority: 'Warning',
  source: 'syscall',
  tags: [],
  hostname: 'n',
  output: `alert ${i}`,
  output_fields: { 'evt.rawtime': 1_764_410_400_123_456_789n + BigInt(i), i },
});

/** Counts outcomes per name (and reason) like the metrics do. */
function counter(): SinkObserver & { n: Record<string, number>; latencies: number[] } {
  const n: Record<string, number> = {};
  const latencies: number[] = [];
  return {
    n,
    latencies,
    outcome: (_s, o, k, reason) => {
      n[o] = (n[o] ?? 0) + k;
      if (reason) n[`${o}:${reason}`] = (n[`${o}:${reason}`] ?? 0) + k;
    },
    latency: (_s, sec) => void latencies.push(sec),
  };
}

const receivers: HttpReceiver[] = [];
async function receiver(...args: ConstructorParameters<typeof HttpReceiver>): Promise<HttpReceiver> {
  const r = new HttpReceiver(...args);
  receivers.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

function sink(
  url: string,
  o: Partial<ConstructorParameters<typeof DeliveringSink>[0]> & { timeoutMs?: number } = {},
): DeliveringSink {
  return new DeliveringSink({
    name: 'hook',
    transport: new HttpTransport({ url, timeoutMs: o.timeoutMs ?? 2_000 }),
    retryBackoff: { baseMs: 20, maxMs: 100 },
    probeMaxMs: 200,
    ...o,
  });
}
const rules = (r: HttpReceiver): string[] => r.bodies<{ rule: string }>().map((b) => b.rule);

describe('delivery: retries and permanent failures', () => {
  it('500 then success: retried, delivered once', async () => {
    const r = await (await receiver((_q, n) => (n === 0 ? { status: 500 } : undefined))).listen();
    const obs = counter();
    const s = sink(`${r.url}/hook`, { observer: obs });
    s.write(alert(1));
    await s.shutdown();
    expect(rules(r)).toEqual(['R1']);
    expect(r.rejected.length).toBe(1);
    expect(obs.n).toMatchObject({ sent: 1, retried: 1 });
    expect(obs.n.failed).toBeUndefined();
    expect(obs.latencies.length).toBe(1);
  });

  it('429 with Retry-After: waits that long, then delivers', async () => {
    let first = 0;
    const r = await (
      await receiver((q, n) => {
        if (n > 0) return undefined;
        first = q.at;
        return { status: 429, headers: { 'retry-after': '1' } };
      })
    ).listen();
    const obs = counter();
    const s = sink(`${r.url}/hook`, { observer: obs });
    s.write(alert(1));
    await s.shutdown();
    expect(rules(r)).toEqual(['R1']);
    expect(r.received[0].at - first).toBeGreaterThanOrEqual(950);
    expect(obs.n).toMatchObject({ sent: 1, retried: 1 });
  });

  it('Retry-After as an HTTP date is honoured', async () => {
    let first = 0;
    const r = await (
      await receiver((q, n) => {
        if (n > 0) return undefined;
        first = q.at;
        return { status: 503, headers: { 'retry-after': new Date(Date.now() + 1_500).toUTCString() } };
      })
    ).listen();
    const s = sink(`${r.url}/hook`);
    s.write(alert(1));
    await s.shutdown();
    expect(rules(r)).toEqual(['R1']);
    expect(r.received[0].at - first).toBeGreaterThanOrEqual(400); // an HTTP date has 1 s resolution
  });

  it('400 is permanent: not retried, counted as failed (rejected), the next alert goes on', async () => {
    const r = await (await receiver((q) => (q.body.includes('"R1"') ? { status: 400 } : undefined))).listen();
    const obs = counter();
    const s = sink(`${r.url}/hook`, {
      observer: obs,
      spool: DiskSpool.open(mkdtempSync(join(tmpdir(), 'sp-')), { maxBytes: 1 << 20 }),
    });
    s.write(alert(1));
    s.write(alert(2));
    await s.shutdown();
    expect(r.rejected.length).toBe(1);
    expect(rules(r)).toEqual(['R2']);
    expect(obs.n).toMatchObject({ sent: 1, failed: 1, 'failed:rejected': 1 });
    expect(obs.n.retried).toBeUndefined();
    expect(obs.n.spooled).toBeUndefined();
  });

  it('a receiver that never answers: timed out, retried, then failed (no spool)', async () => {
    const r = await (await receiver(() => ({ delayMs: 60_000 }))).listen();
    const obs = counter();
    const s = sink(`${r.url}/hook`, { observer: obs, timeoutMs: 200, maxAttempts: 2 });
    s.write(alert(1));
    await s.shutdown();
    expect(obs.n).toMatchObject({ retried: 1, failed: 1, 'failed:unreachable': 1 });
    expect(obs.n.sent).toBeUndefined();
  });

  it('connection refused: retried, then failed (no spool)', async () => {
    const obs = counter();
    const s = sink(`http://127.0.0.1:${await freePort()}/hook`, { observer: obs, maxAttempts: 3 });
    s.write(alert(1));
    await s.shutdown();
    expect(obs.n).toMatchObject({ retried: 2, failed: 1 });
  });

  it('without a spool, a full queue drops the oldest waiting alert (never the one in flight) and counts it', async () => {
    const r = await (await receiver(() => ({ delayMs: 100 }))).listen();
    const obs = counter();
    const s = sink(`${r.url}/hook`, { observer: obs, queueSize: 2, concurrency: 1 });
    for (let i = 0; i < 5; i++) s.write(alert(i));
    await s.shutdown();
    expect(rules(r)).toEqual(['R0', 'R3', 'R4']);
    expect(obs.n).toMatchObject({ sent: 3, dropped: 2, 'dropped:queue_full': 2 });
  });

  it('never more requests in flight than the concurrency limit', async () => {
    const r = await (await receiver(() => ({ delayMs: 30 }))).listen();
    const s = sink(`${r.url}/hook`, { concurrency: 3 });
    for (let i = 0; i < 30; i++) s.write(alert(i));
    await s.shutdown();
    expect(r.received.length).toBe(30);
    expect(r.maxConcurrent).toBe(3);
  });
});

describe('delivery: the spool', () => {
  it('a receiver down for longer than the queue: alerts are spooled, then all delivered once, in order, after it recovers', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sp-'));
    const obs = counter();
    const s = sink(`http://127.0.0.1:${port}/hook`, {
      observer: obs,
      queueSize: 5,
      maxAttempts: 2,
      concurrency: 1,
      spool: DiskSpool.open(dir, { maxBytes: 1 << 20 }),
    });
    for (let i = 0; i < 50; i++) s.write(alert(i));
    await until(() => !s.stats.up);
    for (let i = 50; i < 100; i++) s.write(alert(i));
    expect(s.stats).toMatchObject({ spooled: 99, queued: 1 }); // on disk but the one alert probing the receiver
    expect(obs.n.sent).toBeUndefined();
    const r = await (await receiver()).listen(port); // the receiver comes back
    await until(() => r.received.length >= 100, 15_000);
    await s.shutdown();
    expect(rules(r)).toEqual(Array.from({ length: 100 }, (_, i) => `R${i}`)); // each once, in order
    expect(obs.n.sent).toBe(100);
    expect(obs.n.spooled).toBe(99);
    expect(obs.n.dropped).toBeUndefined();
    expect(obs.n.failed).toBeUndefined();
    expect(s.stats).toMatchObject({ spooled: 0, queued: 0, up: true });
    // bigint fields survive the disk exactly
    expect(r.received.find((q) => q.body.includes('"R77"'))!.body).toContain('"evt.rawtime":1764410400123456866');
  });

  it('a sink closed while its receiver is down leaves the alerts on disk; the next start delivers them', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sp-'));
    const a = sink(`http://127.0.0.1:${port}/hook`, {
      maxAttempts: 1,
      spool: DiskSpool.open(dir, { maxBytes: 1 << 20 }),
    });
    for (let i = 0; i < 20; i++) a.write(alert(i));
    await a.shutdown(deadlineIn(1_000));
    const r = await (await receiver()).listen(port);
    const obs = counter();
    const b = sink(`${r.url}/hook`, { observer: obs, spool: DiskSpool.open(dir, { maxBytes: 1 << 20 }) });
    expect(b.stats.spooled).toBe(20);
    await until(() => r.received.length >= 20);
    await b.shutdown();
    expect(rules(r).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `R${i}`).sort());
    expect(obs.n.sent).toBe(20);
    const c = DiskSpool.open(dir, { maxBytes: 1 << 20 });
    expect(c.size).toBe(0); // nothing left to deliver twice
    c.close();
  });

  it('an alert the receiver always refuses with a 5xx does not block the others', async () => {
    const r = await (await receiver((q) => (q.body.includes('"R0"') ? { status: 500 } : undefined))).listen();
    const s = sink(`${r.url}/hook`, {
      maxAttempts: 1,
      concurrency: 1,
      spool: DiskSpool.open(mkdtempSync(join(tmpdir(), 'sp-')), { maxBytes: 1 << 20 }),
    });
    for (let i = 0; i < 6; i++) s.write(alert(i)); // R0 fails first: the receiver looks down
    await until(() => r.received.length === 5, 10_000);
    expect(rules(r)).toEqual(['R1', 'R2', 'R3', 'R4', 'R5']);
    await s.shutdown(deadlineIn(0));
  });

  it('a full spool drops the oldest alerts and counts them (dropped: spool_full)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sp-'));
    const obs = counter();
    const spool = DiskSpool.open(dir, {
      maxBytes: 64 * 1024,
      segmentBytes: 8 * 1024,
      onDrop: (n, reason) => s.onSpoolDrop(n, reason),
    });
    const s = sink(`http://127.0.0.1:${await freePort()}/hook`, { observer: obs, maxAttempts: 1, queueSize: 1, spool });
    await until(() => (s.write(alert(0)), !s.stats.up));
    for (let i = 1; i <= 2000; i++) s.write({ ...alert(i), output: 'x'.repeat(200) });
    spool.flush();
    expect(obs.n['dropped:spool_full']).toBeGreaterThan(1000);
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    await s.shutdown(deadlineIn(0));
    expect(obs.n.spooled - obs.n['dropped:spool_full']).toBe(DiskSpool.open(dir, { maxBytes: 64 * 1024 }).size);
  });
});
