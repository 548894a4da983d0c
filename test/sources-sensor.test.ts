import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { FieldKeyTable, type SyscallEvent } from '../src/event/index.js';
import { Engine, loadRules } from '../src/engine/index.js';
import { SensorServer, encodeBatch } from '../src/sensor/index.js';
import { PeregrineSensorSource, SensorBatchDecoder } from '../src/sources/index.js';
import { BUNDLED_RULES } from '../src/defaults.js';
import { makeCerts } from './helpers/certs.js';
import { collect, until } from './helpers/wait.js';
import { connect, shadowRead } from './helpers/sensor-events.js';
import { loadProtoRoot } from '../src/transport/index.js';
import { deadlineIn } from '../src/lifecycle.js';

const table = new FieldKeyTable();
const get = (e: SyscallEvent, k: string): unknown => e.get(table, k);

/** Reads batches until `n` events arrived (or fails after `ms`). */
async function take(src: PeregrineSensorSource, n: number, ms = 10_000): Promise<SyscallEvent[]> {
  return (await collect(src, n, ms)) as SyscallEvent[];
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function pair(
  listen: string,
  serverTls?: object,
  clientTls?: object,
): Promise<{ server: SensorServer; source: PeregrineSensorSource; address: string }> {
  const server = new SensorServer({ listen, tls: serverTls, maxBatchEvents: 100 });
  const bound = await server.start();
  cleanup.push(() => server.shutdown(deadlineIn(500)));
  const source = new PeregrineSensorSource({ address: bound, tls: clientTls }, table);
  await source.start();
  cleanup.push(() => source.shutdown());
  return { server, source, address: bound };
}

describe('sensor batch encoding', () => {
  it('matches sensor.proto (protobufjs decodes what we encode) and round-trips every field', () => {
    const buf = encodeBatch(7, 1, [shadowRead(), connect()], 2);
    const root = loadProtoRoot();
    const msg = root
      .lookupType('peregrine.sensor.v1.EventBatch')
      .toObject(root.lookupType('peregrine.sensor.v1.EventBatch').decode(buf), { longs: String }) as {
      strings: string[];
      events: Array<{ type: number; name: number; ancName: number[] }>;
      lost: string;
    };
    expect(msg.strings[msg.events[0].type]).toBe('openat');
    expect(msg.strings[msg.events[0].name]).toBe('cat');
    expect(msg.lost).toBe('2');
    expect(new Set(msg.strings).size).toBe(msg.strings.length); // each string once per batch
    const b = new SensorBatchDecoder(table).decode(buf);
    expect(b).toMatchObject({ streamId: 7, firstSeq: 1, lost: 2 });
    const [e, c] = b.events;
    const want: Record<string, unknown> = {
      'evt.type': 'openat',
      'evt.num': 1,
      'evt.rawres': 3,
      'evt.res': 'SUCCESS',
      'proc.name': 'cat',
      'proc.cmdline': 'cat /etc/shadow',
      'proc.exepath': '/usr/bin/cat',
      'proc.pname': 'bash',
      'proc.aname[2]': 'runc',
      'proc.apid[2]': 3900,
      'proc.acmdline[2]': 'runc init',
      'fd.name': '/etc/shadow',
      'fd.typechar': 'f',
      'fd.directory': '/etc',
      'fd.filename': 'shadow',
      'fd.num': 3,
      'evt.arg.flags': 'O_RDONLY|O_CLOEXEC',
      'evt.is_open_read': true,
      'evt.is_open_write': false,
      'container.id': '3ad7b26ded6d',
      'user.loginuid': -1,
      'evt.time': 1_764_424_800_000_000_000n,
      'proc.duration': 1_000_000_000,
    };
    for (const [k, v] of Object.entries(want)) expect({ k, v: get(e, k) }).toEqual({ k, v });
    expect([
      get(c, 'fd.sip'),
      get(c, 'fd.sport'),
      get(c, 'fd.rip'),
      get(c, 'fd.lport'),
      get(c, 'fd.l4proto'),
      get(c, 'fd.sockfamily'),
    ]).toEqual(['10.96.0.1', 443, '10.96.0.1', 40112, 'tcp', 'ip']);
  });

  it('rejects malformed batches with a wire-format error, never another exception', () => {
    const good = encodeBatch(7, 1, [shadowRead()]);
    const d = new SensorBatchDecoder(table);
    for (const bad of [
      good.subarray(0, good.length - 3),
      Buffer.from([0x22, 0xff, 0xff, 0xff, 0x0f]),
      Buffer.from([0x0f]),
    ]) {
      expect(() => d.decode(bad)).toThrow(
        /WireFormatError|truncated|past the end|wire type|string index|without a type/,
      );
    }
    const r = protobuf.Writer.create();
    r.uint32((4 << 3) | 2).bytes(
      protobuf.Writer.create()
        .uint32((2 << 3) | 0)
        .uint32(99)
        .finish(),
    );
    expect(() => d.decode(Buffer.from(r.finish()))).toThrow(/string index 99/);
  });
});

describe('Peregrine sensor source over real gRPC', () => {
  it('TCP: events arrive decoded, in order, and an upstream rule fires on them', async () => {
    const { server, source } = await pair('127.0.0.1:0');
    await until(() => server.stats.subscribers === 1);
    server.publish(Array.from({ length: 250 }, (_, i) => shadowRead(i)));
    const evs = await take(source, 250);
    expect(evs.map((e) => get(e, 'evt.num'))).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    const load = loadRules([BUNDLED_RULES], table);
    const engine = new Engine(load, { hostname: 't' });
    const fired: string[] = [];
    engine.evaluate(evs[0], (r) => fired.push(r.name));
    expect(fired).toEqual(['Read sensitive file']);
    expect(source.stats).toMatchObject({ decoded: 250, lost: 0, malformed: 0, connected: true });
    expect(await source.version()).toMatchObject({ api_version: 1 });
  });

  it('unix socket', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'peregrine-')), 'sensor.sock');
    const { server, source } = await pair(`unix://${sock}`);
    await until(() => server.stats.subscribers === 1);
    server.publish([connect()]);
    const [e] = await take(source, 1);
    expect(get(e, 'fd.sport')).toBe(443);
  });

  const certs = makeCerts();
  it('TLS and mutual TLS; a client with a certificate from the wrong CA never connects', async () => {
    const tls = await pair(
      '127.0.0.1:0',
      { cert: certs.serverCert, key: certs.serverKey },
      { ca: certs.ca, serverName: 'localhost' },
    );
    await until(() => tls.server.stats.subscribers === 1);
    tls.server.publish([shadowRead()]);
    expect((await take(tls.source, 1)).length).toBe(1);

    const mtls = await pair(
      '127.0.0.1:0',
      { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
      { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, serverName: 'localhost' },
    );
    await until(() => mtls.server.stats.subscribers === 1);
    mtls.server.publish([shadowRead()]);
    expect((await take(mtls.source, 1)).length).toBe(1);

    const wrong = new PeregrineSensorSource(
      {
        address: mtls.address,
        tls: { ca: certs.ca, cert: certs.otherClientCert, key: certs.otherClientKey, serverName: 'localhost' },
      },
      table,
    );
    await wrong.start();
    cleanup.push(() => wrong.shutdown());
    await new Promise((r) => setTimeout(r, 1_500));
    expect(wrong.stats.connects).toBe(0);
    expect(mtls.server.stats.subscribers).toBe(1);
  });

  it('resumes after a reconnect: nothing published meanwhile is lost', async () => {
    const { server, source } = await pair('127.0.0.1:0');
    await until(() => server.stats.subscribers === 1);
    server.publish(Array.from({ length: 100 }, (_, i) => shadowRead(i)));
    await take(source, 100);
    // cut the stream from the client side (like a network blip) and publish while it is away
    source.reconnect();
    server.publish(Array.from({ length: 300 }, (_, i) => shadowRead(100 + i)));
    const rest = await take(source, 300);
    expect(rest.map((e) => get(e, 'evt.num'))).toEqual(Array.from({ length: 300 }, (_, i) => 101 + i));
    expect(source.stats.lost).toBe(0);
    expect(source.stats.connects).toBeGreaterThanOrEqual(2);
  });

  it('counts what the replay buffer no longer holds, and a sensor killed and restarted mid-stream', async () => {
    const server = new SensorServer({ listen: '127.0.0.1:0', bufferEvents: 100, maxBatchEvents: 50 });
    const addr = await server.start();
    const source = new PeregrineSensorSource({ address: addr }, table);
    await source.start();
    cleanup.push(() => source.shutdown());
    await until(() => server.stats.subscribers === 1);
    server.publish([shadowRead()]);
    await take(source, 1);
    source.reconnect();
    server.publish(Array.from({ length: 300 }, (_, i) => shadowRead(i))); // only the last 100 stay buffered
    const got = await take(source, 100);
    expect(got[0].get(table, 'evt.num')).toBe(202);
    await until(() => source.stats.lost === 200, 3_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(source.stats)}`);
    });

    server.kill();
    const port = addr.split(':').pop()!;
    const restarted = new SensorServer({ listen: `127.0.0.1:${port}` });
    await restarted.start();
    cleanup.push(() => restarted.shutdown(deadlineIn(500)));
    await until(() => restarted.stats.subscribers === 1, 15_000);
    restarted.publish([connect()]);
    const [e] = await take(source, 1, 15_000);
    expect(e.get(table, 'evt.type')).toBe('connect');
    expect(source.streamRestarts).toBe(1);
  });

  it('a slow consumer pauses the stream instead of losing events', async () => {
    const server = new SensorServer({ listen: '127.0.0.1:0', maxBatchEvents: 100 });
    const addr = await server.start();
    cleanup.push(() => server.shutdown(deadlineIn(500)));
    const source = new PeregrineSensorSource({ address: addr, bufferEvents: 200 }, table);
    await source.start();
    cleanup.push(() => source.shutdown());
    await until(() => server.stats.subscribers === 1);
    server.publish(Array.from({ length: 2_000 }, (_, i) => shadowRead(i)));
    await new Promise((r) => setTimeout(r, 300)); // nobody reads: the buffer fills, the stream pauses
    const evs = await take(source, 2_000);
    expect(evs.length).toBe(2_000);
    expect(source.stats.dropped).toBe(0);
    expect(new Set(evs.map((e) => e.get(table, 'evt.num'))).size).toBe(2_000);
  });
});

describe('subscribers’ event types', () => {
  it('the union goes to the capture; a hostile list of 40,000 names is bounded (a bigger request is refused at gRPC’s message limit)', async () => {
    const seen: Array<readonly string[] | undefined> = [];
    const server = new SensorServer({ listen: '127.0.0.1:0', onEventTypes: (t) => seen.push(t) });
    const bound = await server.start();
    cleanup.push(() => server.shutdown(deadlineIn(500)));
    const huge = Array.from({ length: 40_000 }, (_, i) => (i % 2 ? `t${i}` : 'x'.repeat(100)));
    const a = new PeregrineSensorSource({ address: bound, eventTypes: ['openat'] }, table);
    const b = new PeregrineSensorSource({ address: bound, eventTypes: huge }, table);
    cleanup.push(
      () => a.shutdown(),
      () => b.shutdown(),
    );
    await a.start();
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual(['openat']);
    await b.start();
    await until(() => server.stats.subscribers === 2, 10_000);
    await until(() => seen.length === 2);
    expect(seen[1]!.length).toBeLessThanOrEqual(1 + 512);
    expect(seen[1]).toContain('openat');
    expect(seen[1]!.every((t) => t.length <= 64)).toBe(true);
  });
});

describe('certificate rotation', () => {
  it('a changed server certificate and CA file are picked up without restarting either side', async () => {
    const { copyFileSync } = await import('node:fs');
    const a = makeCerts();
    const b = makeCerts();
    const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    const f = (n: string): string => join(dir, n);
    copyFileSync(a.serverCert, f('server.crt'));
    copyFileSync(a.serverKey, f('server.key'));
    copyFileSync(a.ca, f('ca.crt'));
    const server = new SensorServer({ listen: '127.0.0.1:0', tls: { cert: f('server.crt'), key: f('server.key') } });
    const addr = await server.start();
    cleanup.push(() => server.shutdown(deadlineIn(500)));
    const source = new PeregrineSensorSource(
      { address: addr, tls: { ca: f('ca.crt'), serverName: 'localhost' }, reconnect: { baseMs: 100, maxMs: 500 } },
      table,
    );
    await source.start();
    cleanup.push(() => source.shutdown());
    await until(() => source.stats.connects === 1);
    // rotate to certificates of another CA on both sides, then drop the connection
    copyFileSync(b.serverCert, f('server.crt'));
    copyFileSync(b.serverKey, f('server.key'));
    copyFileSync(b.ca, f('ca.crt'));
    await new Promise((r) => setTimeout(r, 3_000)); // > the 2 s refresh interval
    source.reconnect();
    await until(() => source.stats.connects === 2 && server.stats.subscribers === 1, 15_000);
    server.publish([shadowRead()]);
    expect((await take(source, 1)).length).toBe(1);
  });
});

describe('overflow policies', () => {
  for (const policy of ['drop-newest', 'drop-oldest'] as const) {
    it(`${policy}: a full buffer drops and counts instead of pausing`, async () => {
      const server = new SensorServer({ listen: '127.0.0.1:0', maxBatchEvents: 100 });
      const addr = await server.start();
      cleanup.push(() => server.shutdown(deadlineIn(500)));
      const source = new PeregrineSensorSource({ address: addr, bufferEvents: 300, overflow: policy }, table);
      await source.start();
      cleanup.push(() => source.shutdown());
      await until(() => server.stats.subscribers === 1);
      server.publish(Array.from({ length: 1_000 }, (_, i) => shadowRead(i)));
      await until(() => source.stats.decoded === 1_000);
      const got = await take(source, 300);
      expect(source.stats.dropped).toBe(700);
      const nums = got.map((e) => e.get(table, 'evt.num') as number);
      if (policy === 'drop-newest') expect(nums[0]).toBe(1);
      else expect(nums[nums.length - 1]).toBe(1_000);
    });
  }
});
