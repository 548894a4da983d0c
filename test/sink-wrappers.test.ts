/** The wrappers every sink gets (filter, folding, resolution) and the file sink, through buildSink. */
import { existsSync, mkdtempSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { alertToJson, type Alert } from '../src/event/index.js';
import {
  NO_OBSERVER,
  buildSink,
  pagerdutyEvent,
  sinkPluginFor,
  slackMessage,
  type SinkObserver,
} from '../src/sinks/index.js';
import { silentLogger } from '../src/telemetry/index.js';
import { HttpReceiver, type Received } from './helpers/http-receiver.js';
import { until } from './helpers/wait.js';
import { deadlineIn } from '../src/lifecycle.js';
import { ManualClock } from './helpers/manual-clock.js';

const base: Alert = {
  time: '2026-11-29T10:00:00.000000000Z',
  rule: 'Read sensitive file',
  priority: 'Warning',
  source: 'syscall',
  tags: ['filesystem'],
  hostname: 'node-7',
  output: 'cat read /etc/shadow',
  output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1', 'k8s.workload.name': 'web', 'proc.name': 'cat' },
};

function counter(): SinkObserver & { n: Record<string, number> } {
  const n: Record<string, number> = {};
  return { n, outcome: (_s, o, k) => void (n[o] = (n[o] ?? 0) + k), latency: () => undefined };
}

const receivers: HttpReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});
async function receiver(): Promise<HttpReceiver> {
  const r = await new HttpReceiver().listen();
  receivers.push(r);
  return r;
}

describe('exact bodies and headers on real receivers', () => {
  it('webhook: Falco JSON byte for byte, custom headers, HMAC signature; Slack, PagerDuty: exactly the message formats', async () => {
    const r = await receiver();
    const alert: Alert = {
      ...base,
      output_fields: { ...base.output_fields, 'evt.rawtime': 1_764_410_400_123_456_789n },
    };
    const sinks = [
      buildSink(
        { type: 'webhook', url: `${r.url}/hook`, headers: { 'X-Team': 'sec' }, hmacSecret: 'k3y' },
        { name: 'hook' },
      ),
      buildSink({ type: 'slack', url: `${r.url}/slack` }, { name: 'slack' }),
      buildSink({ type: 'pagerduty', routingKey: 'RK', url: `${r.url}/pd` }, { name: 'pd' }),
    ];
    for (const s of sinks) s.write(alert);
    await Promise.all(sinks.map((s) => s.shutdown()));
    const at = (path: string): Received => r.received.find((q) => q.path === path)!;
    const hook = at('/hook');
    expect(hook.body).toBe(alertToJson(alert));
    expect(hook.body).toContain('"evt.rawtime":1764410400123456789'); // 64-bit exact
    expect(hook.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'peregrine',
      'x-team': 'sec',
      'x-peregrine-signature': `sha256=${createHmac('sha256', 'k3y').update(hook.body).digest('hex')}`,
    });
    expect(JSON.parse(at('/slack').body)).toEqual(slackMessage(alert));
    expect(JSON.parse(at('/pd').body)).toEqual(JSON.parse(JSON.stringify(pagerdutyEvent(alert, 'RK'))));
    for (const p of ['/slack', '/pd']) expect(at(p).headers['content-type']).toBe('application/json');
  });

  it('PagerDuty regions: US and EU endpoints', () => {
    const target = (region: string): string => {
      const plugin = sinkPluginFor('pagerduty')!;
      const b = plugin.build(plugin.schema.parse({ routingKey: 'RK', region }), {
        name: 'pd',
        logger: silentLogger(),
        observer: NO_OBSERVER,
        stdout: process.stdout,
      });
      if (!('transport' in b)) throw new Error('PagerDuty is a remote sink');
      b.transport.close();
      return b.transport.target;
    };
    expect([target('us'), target('eu')]).toEqual([
      'https://events.pagerduty.com/…',
      'https://events.eu.pagerduty.com/…',
    ]);
  });
});

describe('PagerDuty: resolve after a quiet period', () => {
  it('triggers, folds nothing away when aggregation is off, and resolves the same dedup key once quiet', async () => {
    const r = await receiver();
    const dir = mkdtempSync(join(tmpdir(), 'pd-'));
    const clock = new ManualClock();
    const sink = buildSink(
      { type: 'pagerduty', routingKey: 'RK', url: `${r.url}/enqueue`, resolveAfterMinutes: 1, aggregateSeconds: 0 },
      { name: 'pd', spoolDir: dir, clock },
    );
    sink.write(base);
    await clock.advance(30_000);
    sink.write(base); // a repeat inside the quiet period restarts it
    await sink.flush();
    await clock.advance(59_000); // 89 s after the first, 59 s after the repeat: still open
    await sink.flush();
    expect(r.received.length).toBe(2);
    await clock.advance(1_000); // 60 s after the repeat: resolved
    await until(() => r.received.length >= 3, 5_000);
    const events = r.bodies<{ event_action: string; dedup_key: string; routing_key: string }>();
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'trigger', 'resolve']);
    expect(new Set(events.map((e) => e.dedup_key)).size).toBe(1);
    expect(events[2]).toEqual({ routing_key: 'RK', event_action: 'resolve', dedup_key: events[0].dedup_key });
    await sink.shutdown();
    expect(r.received.length).toBe(3);
  });

  it('open problems survive a restart and are resolved by the next process', async () => {
    const r = await receiver();
    const dir = mkdtempSync(join(tmpdir(), 'pd-'));
    const cfg = {
      type: 'pagerduty',
      routingKey: 'RK',
      url: `${r.url}/enqueue`,
      resolveAfterMinutes: 0.02,
      aggregateSeconds: 0,
    };
    const first = buildSink(cfg, { name: 'pd', spoolDir: dir });
    first.write(base);
    await until(() => r.received.length === 1);
    await first.shutdown();
    expect(existsSync(join(dir, 'pd', 'open-problems.jsonl'))).toBe(true);
    const second = buildSink(cfg, { name: 'pd', spoolDir: dir });
    await until(() => r.received.length === 2, 5_000);
    expect(r.bodies<{ event_action: string }>().map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    await second.shutdown();
  });
});

describe('per-sink filter', () => {
  it('minimum priority, rule names and tags; the rest counted as filtered', async () => {
    const r = await receiver();
    const obs = counter();
    const sink = buildSink(
      {
        type: 'webhook',
        url: `${r.url}/hook`,
        minPriority: 'Error',
        tags: ['mitre_execution', 'container'],
        aggregateSeconds: 0,
      },
      { name: 'w', observer: obs },
    );
    sink.write({ ...base, priority: 'Critical', tags: ['container'] }); // taken
    sink.write({ ...base, priority: 'Warning', tags: ['container'] }); // below the floor
    sink.write({ ...base, priority: 'Critical', tags: ['network'] }); // no wanted tag
    await sink.shutdown();
    expect(r.received.length).toBe(1);
    expect(obs.n).toMatchObject({ sent: 1, filtered: 2 });
    const byRule = buildSink(
      { type: 'webhook', url: `${r.url}/hook`, rules: ['Terminal shell in container'], aggregateSeconds: 0 },
      { name: 'w2', observer: obs },
    );
    byRule.write(base);
    byRule.write({ ...base, rule: 'Terminal shell in container' });
    await byRule.shutdown();
    expect(r.bodies<{ rule: string }>().map((b) => b.rule)).toEqual([
      'Read sensitive file',
      'Terminal shell in container',
    ]);
    expect(obs.n.filtered).toBe(3);
  });

  it('folding counts the folded repeats and lets a resolution through at once', async () => {
    const r = await receiver();
    const obs = counter();
    const sink = buildSink(
      { type: 'webhook', url: `${r.url}/hook`, aggregateSeconds: 60 },
      { name: 'w', observer: obs },
    );
    for (let i = 0; i < 5; i++) sink.write(base);
    sink.write({ ...base, output_fields: { ...base.output_fields, 'peregrine.resolved': true } });
    await sink.flush(); // closes the window: the follow-up goes out
    await sink.shutdown();
    expect(obs.n).toMatchObject({ folded: 4, sent: 3 });
    const bodies = r.bodies<{ output_fields: Record<string, unknown> }>();
    expect(bodies[1].output_fields['peregrine.resolved']).toBe(true);
    expect(bodies[2].output_fields['peregrine.repeat_count']).toBe(4);
  });
});

describe('secrets stay out of logs', () => {
  it('rejected, failing and unreachable deliveries log the masked target, never the URL path or the routing key', async () => {
    const r = new HttpReceiver((q) => (q.path.startsWith('/services/') ? { status: 400 } : { status: 500 }));
    await r.listen();
    receivers.push(r);
    const logs: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    const sinks = [
      buildSink({ type: 'slack', url: `${r.url}/services/T0/B0/SLACKSECRET` }, { name: 'slack', logger }),
      buildSink(
        { type: 'pagerduty', routingKey: 'ROUTINGSECRET', url: `${r.url}/pd`, maxAttempts: 1 },
        { name: 'pd', logger, spoolDir: dir },
      ),
      buildSink(
        { type: 'webhook', url: 'http://127.0.0.1:9/hook/HOOKSECRET', maxAttempts: 1 },
        { name: 'hook', logger },
      ),
    ];
    for (const s of sinks) s.write(base);
    await Promise.all(sinks.map((s) => s.shutdown(deadlineIn(2_000))));
    const text = logs.join('');
    expect(text).toContain('alert rejected by the receiver'); // slack: 400
    expect(text).toContain('receiver down'); // pagerduty: 500, spooled
    expect(text).toContain('alert delivery failed'); // webhook: refused, no spool
    expect(text).toContain(`${r.url}/…`);
    for (const secret of ['SLACKSECRET', 'ROUTINGSECRET', 'HOOKSECRET', '/services/', '/pd'])
      expect(text).not.toContain(secret);
  });
});

describe('stdout sink', () => {
  it('an output that does not keep up: alerts beyond 16 MiB waiting are dropped, counted and logged (bounded)', async () => {
    const stuck = new Writable({ highWaterMark: 1024, write: () => undefined }); // never completes a write
    const obs = counter();
    const logs: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });
    const sink = buildSink({ type: 'stdout' }, { name: 'stdout', stdout: stuck, observer: obs, logger });
    const big: Alert = { ...base, output: 'x'.repeat(64 * 1024) };
    for (let i = 0; i < 400; i++) {
      sink.write(big);
      await new Promise((r) => setImmediate(r));
    }
    expect(obs.n.sent).toBeGreaterThan(200);
    expect(obs.n.dropped).toBeGreaterThan(100);
    expect(obs.n.sent + obs.n.dropped).toBe(400);
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(logs.length).toBeLessThanOrEqual(3); // rate-limited
    expect(logs[0]).toContain('standard output does not keep up');
  });
});

describe('file sink', () => {
  it('rotates by size, keeps maxFiles, and loses no line in the files it keeps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-'));
    const path = join(dir, 'alerts.jsonl');
    const sink = buildSink({ type: 'file', path, maxSizeMB: 0.01, maxFiles: 2 }, { name: 'file' }); // ~10 KB per file
    const line = (i: number): Alert => ({ ...base, output: `alert ${i} ${'x'.repeat(300)}` });
    for (let i = 0; i < 60; i++) sink.write(line(i)); // ~33 KB: more than the three files keep
    await sink.flush();
    await sink.shutdown();
    const read = (p: string): number[] =>
      readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => Number(/alert (\d+)/.exec((JSON.parse(l) as Alert).output)![1]));
    const files = [`${path}.2`, `${path}.1`, path];
    for (const f of files) {
      expect(existsSync(f), f).toBe(true);
      expect(readFileSync(f).length).toBeLessThanOrEqual(10 * 1024 * 1.05);
    }
    expect(existsSync(`${path}.3`)).toBe(false);
    const all = files.flatMap(read);
    // oldest in .2, newest in the live file: the newest alerts, in order, none missing or repeated
    expect(all[0]).toBeGreaterThan(0);
    expect(all).toEqual(Array.from({ length: 60 - all[0] }, (_, i) => all[0] + i));
  });

  it('creates the directory; a path that cannot be opened is an error naming the sink and the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-'));
    const sink = buildSink({ type: 'file', path: join(dir, 'a', 'b', 'alerts.jsonl') }, { name: 'file' });
    sink.write(base);
    await sink.shutdown();
    expect(readFileSync(join(dir, 'a', 'b', 'alerts.jsonl'), 'utf8')).toContain('"rule":"Read sensitive file"');
    expect(() => buildSink({ type: 'file', path: dir }, { name: 'audit' })).toThrow(
      `file sink audit: cannot open ${dir}: EISDIR; check the path and that the agent may write there`,
    );
  });

  it('never rotates a device (/dev/null) however much is written', async () => {
    const sink = buildSink({ type: 'file', path: '/dev/null', maxSizeMB: 0.001 }, { name: 'null' });
    for (let i = 0; i < 100; i++) sink.write(base);
    await sink.shutdown();
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(existsSync('/dev/null.1')).toBe(false);
  });

  it('reopen (SIGHUP) starts a new file after logrotate moved the old one away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-'));
    const path = join(dir, 'alerts.jsonl');
    const sink = buildSink({ type: 'file', path, maxSizeMB: 0 }, { name: 'file' });
    sink.write({ ...base, output: 'before' });
    await sink.flush();
    renameSync(path, `${path}.rotated`);
    sink.write({ ...base, output: 'still the old file (not reopened yet)' });
    await sink.flush();
    sink.reopen();
    sink.write({ ...base, output: 'after' });
    await sink.shutdown();
    expect(readFileSync(`${path}.rotated`, 'utf8')).toContain('still the old file');
    expect(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Alert).output),
    ).toEqual(['after']);
  });
});
