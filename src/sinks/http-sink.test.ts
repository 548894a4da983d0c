import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../event/index.js';
import { HttpSink } from './http-sink.js';

const alert: Alert = { time: '2026-11-29T10:00:00Z', rule: 'R', priority: 'Warning', source: 'syscall', tags: [], hostname: 'n', output: 'o', output_fields: {} };

async function server(handler: http.RequestListener): Promise<{ url: string; close: () => void }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as { port: number }).port}/x`, close: () => s.close() };
}

describe('HttpSink faults', () => {
  it('a receiver that never answers times out, is retried, then counted as failed', async () => {
    const srv = await server(() => undefined); // never responds
    const outcomes: string[] = [];
    const sink = new HttpSink({ name: 's', url: srv.url, timeoutMs: 200, maxAttempts: 2, onOutcome: (o) => outcomes.push(o) });
    sink.write(alert);
    await sink.close();
    srv.close();
    expect(outcomes).toEqual(['retried', 'failed']);
    expect(sink.counts).toMatchObject({ sent: 0, failed: 1, retried: 1 });
  });

  it('connection refused is retried and counted', async () => {
    const sink = new HttpSink({ name: 's', url: 'http://127.0.0.1:9/x', maxAttempts: 2 });
    sink.write(alert);
    await sink.close();
    expect(sink.counts).toMatchObject({ sent: 0, failed: 1, retried: 1 });
  });

  it('Retry-After as an HTTP date is honoured; the alert is delivered once', async () => {
    let calls = 0;
    const times: number[] = [];
    const srv = await server((_req, res) => {
      times.push(Date.now());
      if (++calls === 1) res.writeHead(503, { 'retry-after': new Date(Date.now() + 1_500).toUTCString() }).end();
      else res.writeHead(200).end();
    });
    const sink = new HttpSink({ name: 's', url: srv.url });
    sink.write(alert);
    await sink.close();
    srv.close();
    expect(calls).toBe(2);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(400); // an HTTP date has 1 s resolution
    expect(sink.counts).toMatchObject({ sent: 1, failed: 0, retried: 1 });
  });

  it('a full queue drops the oldest alert and counts it', async () => {
    const srv = await server((_req, res) => setTimeout(() => res.writeHead(200).end(), 100));
    const sink = new HttpSink({ name: 's', url: srv.url, queueSize: 2 });
    for (let i = 0; i < 5; i++) sink.write({ ...alert, rule: `R${i}` });
    await sink.close();
    srv.close();
    expect(sink.counts.dropped).toBe(2);
    expect(sink.counts.sent).toBe(3);
  });
});
