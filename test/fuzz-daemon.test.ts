/**
 * Fuzzing the running daemon from every side at once, over real sockets: a sensor API server,
 * a Tetragon server and a Falco gRPC server stream mangled and random messages; Falco HTTP
 * peers post random, structure-aware and malformed bodies, broken headers and requests cut
 * off mid-body. Afterwards the daemon is alive, healthy and ready, its memory bounded, every
 * bad input counted, and a good input on each channel still becomes an alert (not blinded).
 * FUZZ_RUNS scales the number of inputs per channel.
 */
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '../src/sensor/index.js';
import { startDaemon, type Daemon } from './helpers/daemon.js';
import { fuzzRuns } from './helpers/fuzz.js';
import { encode, falcoServer, rawSensorServer, tetragonServer, type FakeServer } from './helpers/grpc-servers.js';
import { freePort } from './helpers/http-receiver.js';
import { connect, shadowRead } from './helpers/sensor-events.js';
import { tetragonExec, tetragonKprobe } from './helpers/tetragon-events.js';
import { until, untilAsync } from './helpers/wait.js';

const CANARY_RULES = `- rule: Fuzz canary
  desc: a process named fuzzcanary ran or opened a file
  condition: evt.type in (execve, openat) and proc.name = fuzzcanary
  output: "canary %proc.name from %evt.type"
  priority: WARNING
`;

/** Random edits of valid bytes. */
function mangle(valid: readonly Buffer[], n: number): Buffer[] {
  const edits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), {
    minLength: 1,
    maxLength: 5,
  });
  return fc.sample(fc.tuple(fc.constantFrom(...valid), edits), n).map(([buf, es]) => {
    let b = Buffer.from(buf);
    for (const [at, byte, op] of es) {
      const i = b.length ? at % b.length : 0;
      if (op === 'flip') b[i] = byte;
      else if (op === 'cut') b = b.subarray(0, i);
      else b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
    }
    return b;
  });
}
const randomBytes = (n: number): Buffer[] => fc.sample(fc.uint8Array({ maxLength: 200 }), n).map((u) => Buffer.from(u));

/** Raw HTTP: whatever `head` and `body` are; the answer's status line, or '' when cut. */
function rawRequest(port: number, data: string | Buffer, cutAfterMs?: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(data);
      if (cutAfterMs !== undefined) setTimeout(() => s.resetAndDestroy(), cutAfterMs);
    });
    s.setTimeout(5_000, () => s.destroy());
    s.on('data', (c) => (got += c.toString('latin1')));
    s.on('error', () => resolve(got.split('\r\n')[0] ?? ''));
    s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
  });
}

describe('fuzz: the daemon under hostile peers on every channel', () => {
  const servers: FakeServer[] = [];
  let d: Daemon | undefined;
  afterAll(async () => {
    d?.kill();
    for (const s of servers) await s.stop();
  });

  it('stays alive, healthy and ready; counts every bad input; a good input on each channel still alerts', async () => {
    const n = fuzzRuns(150);
    const sensor = await rawSensorServer();
    const tetragon = await tetragonServer();
    const falco = await falcoServer();
    servers.push(sensor, tetragon, falco);
    const rulesDir = mkdtempSync(join(tmpdir(), 'fuzz-rules-'));
    writeFileSync(join(rulesDir, 'canary.yaml'), CANARY_RULES);
    const httpPort = await freePort();
    d = await startDaemon([
      'sources:',
      '  - type: sensor',
      `    address: ${sensor.address}`,
      '  - type: tetragon',
      `    address: ${tetragon.address}`,
      '  - type: falco-grpc',
      `    address: ${falco.address}`,
      '  - type: falco-http',
      `    listen: 127.0.0.1:${httpPort}`,
      '    rateLimit: {alertsPerSecond: 100000, burst: 100000}',
      'rules:',
      `  paths: [${join(rulesDir, 'canary.yaml')}]`,
      'log:',
      '  level: error',
    ]);
    await until(() => sensor.requests.length > 0 && tetragon.requests.length > 0 && falco.requestsSeen() > 0, 20_000);

    // gRPC peers: mangled valid messages and random bytes
    sensor.send([...mangle([encodeBatch(1, 1, [shadowRead(), connect()], 1)], n), ...randomBytes(n)]);
    tetragon.send([
      ...mangle(
        [
          encode('tetragon.GetEventsResponse', tetragonExec('/usr/bin/nc', '-e /bin/sh')),
          encode(
            'tetragon.GetEventsResponse',
            tetragonKprobe('__x64_sys_openat', [{ int_arg: -100 }, { string_arg: '/etc/shadow' }]),
          ),
        ],
        n,
      ),
      ...randomBytes(n),
    ]);
    const falcoValid = encode('falco.outputs.response', {
      time: { seconds: 1764424800, nanos: 5 },
      priority: 4,
      rule: 'r',
      output: 'o',
      output_fields: { 'proc.name': 'x' },
      hostname: 'h',
      tags: ['t'],
      source: 'syscall',
    });
    falco.send([...mangle([falcoValid], n), ...randomBytes(n)]);

    // HTTP peers: bodies of every shape, broken requests, requests cut mid-body
    const bodies = fc.sample(
      fc.oneof(
        fc.json({ maxDepth: 3 }),
        fc.string({ maxLength: 200 }),
        fc
          .record(
            {
              rule: fc.string(),
              priority: fc.constantFrom('Critical', 'x', ''),
              output: fc.string(),
              output_fields: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
            },
            { requiredKeys: [] },
          )
          .map((o) => JSON.stringify(o)),
      ),
      n,
    );
    const statuses = new Map<number, number>();
    for (const body of bodies) {
      const r = await fetch(`http://127.0.0.1:${httpPort}/`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      await r.arrayBuffer();
    }
    const raw = [
      'GARBAGE\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      `POST / HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n\u0000\u0001\u0002\u0003',
      ...fc.sample(fc.string({ maxLength: 300 }), Math.min(n, 50)),
    ];
    for (const r of raw) await rawRequest(httpPort, r, 200);
    for (let i = 0; i < Math.min(n, 30); i++)
      await rawRequest(
        httpPort,
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"rule":"cut`,
        50,
      );

    // every bad input counted, per source
    for (const source of ['sensor', 'tetragon', 'falco-grpc']) {
      await untilAsync(
        async () => (await d!.metric(`peregrine_events_dropped_total{source="${source}",reason="malformed"}`)) > 0,
        15_000,
      );
    }
    await untilAsync(
      async () => (await d!.metric('peregrine_events_dropped_total{source="falco-http",reason="aborted"}')) > 0,
      15_000,
    );
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].every((s) => s === 200 || s === 400 || s === 413 || s === 415)).toBe(true);

    // still watching: a good input on each channel becomes an alert
    sensor.send([encodeBatch(1, 10_000, [{ ...shadowRead(), name: 'fuzzcanary' }])]);
    tetragon.send([encode('tetragon.GetEventsResponse', tetragonExec('/usr/bin/fuzzcanary', ''))]);
    falco.send([
      encode('falco.outputs.response', {
        time: { seconds: 1764424800, nanos: 0 },
        priority: 2,
        rule: 'Falco canary over gRPC',
        output: 'o',
        output_fields: {},
        hostname: 'h',
        tags: [],
        source: 'syscall',
      }),
    ]);
    const ok = await fetch(`http://127.0.0.1:${httpPort}/`, {
      method: 'POST',
      body: JSON.stringify({
        rule: 'Falco canary over HTTP',
        priority: 'Critical',
        output: 'o',
        time: '2026-11-29T13:20:00Z',
        output_fields: {},
      }),
    });
    expect(ok.status).toBe(200);
    await until(
      () =>
        d!.stdout().includes('"rule":"Falco canary over HTTP"') &&
        d!.stdout().includes('"rule":"Falco canary over gRPC"'),
      15_000,
    );
    await until(
      () => /canary fuzzcanary from openat/.test(d!.stdout()) && /canary fuzzcanary from execve/.test(d!.stdout()),
      15_000,
    );

    expect(d.child.exitCode).toBeNull();
    expect((await d.get('/healthz')).status).toBe(200);
    expect((await d.get('/readyz')).status).toBe(200);
    expect(await d.metric('peregrine_process_resident_memory_bytes')).toBeLessThan(400 * 1024 * 1024);
    expect(d.stderr()).not.toMatch(/uncaught|unhandled/i);
    expect((await d.stop()).code).toBe(0);
  });
});
