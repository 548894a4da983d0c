/**
 * Hostile and edge-case inputs at the decoders and the CLI: zero is a value (not missing) on
 * every wire; replay lines are bounded before buffering; out-of-range numbers and times are a
 * bad line; 64-bit integers stay exact; secrets read through *File keys never print; the sensor
 * refuses TCP without TLS and sets its socket's mode.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { compileCondition } from '../src/engine/index.js';
import { EventDecodeError, FieldKeyTable, FlatEventDecoder, type SyscallEvent } from '../src/event/index.js';
import { encodeBatch } from '../src/sensor/index.js';
import { readReplay, type ReplayItem, SensorBatchDecoder, TetragonDecoder } from '../src/sources/index.js';
import { PEREGRINE } from './helpers/daemon.js';
import { encode } from './helpers/grpc-servers.js';
import { shadowRead } from './helpers/sensor-events.js';
import { tetragonExec } from './helpers/tetragon-events.js';
import { until } from './helpers/wait.js';
import { loadProtoRoot } from '../src/transport/index.js';

const table = new FieldKeyTable();
const rootOnly = compileCondition('user.uid = 0 and group.gid = 0', table);
const uidFields = (e: SyscallEvent): unknown[] => [
  e.get(table, 'user.uid'),
  e.get(table, 'group.gid'),
  e.get(table, 'proc.tty'),
];

describe('zero is a value, not missing', () => {
  it('sensor API: uid 0, gid 0, tty 0 arrive as 0 and match user.uid = 0; absent ones stay missing', () => {
    const d = new SensorBatchDecoder(table);
    const [root] = d.decode(encodeBatch(1, 1, [shadowRead()])).events;
    expect(uidFields(root)).toEqual([0, 0, 0]);
    expect(rootOnly.pred(root)).toBe(true);
    const { uid: _u, gid: _g, tty: _t, ...rest } = shadowRead();
    const [unknown] = d.decode(encodeBatch(1, 2, [rest])).events;
    expect(uidFields(unknown)).toEqual([undefined, undefined, undefined]);
    expect(rootOnly.pred(unknown)).toBe(false);
  });

  it('Tetragon: uid {value: 0} is root; a process without uid is missing', () => {
    const d = new TetragonDecoder(table, loadProtoRoot());
    const e = d.decode(encode('tetragon.GetEventsResponse', tetragonExec('/usr/bin/id', ''))).event!;
    expect(e.get(table, 'user.uid')).toBe(0);
    const msg = tetragonExec('/usr/bin/env', '-i') as { process_exec: { process: Record<string, unknown> } };
    msg.process_exec.process = { ...msg.process_exec.process, uid: undefined, exec_id: 'bm91aWQ' };
    const n = new TetragonDecoder(table, loadProtoRoot()).decode(encode('tetragon.GetEventsResponse', msg)).event!;
    expect(n.get(table, 'user.uid')).toBeUndefined();
  });

  it('JSON events: 0 is 0, null and absent are missing', () => {
    const d = new FlatEventDecoder(table);
    expect(uidFields(d.decodeLine('{"evt.type":"openat","user.uid":0,"group.gid":0,"proc.tty":0}', 1))).toEqual([
      0, 0, 0,
    ]);
    expect(uidFields(d.decodeLine('{"evt.type":"openat","user.uid":null}', 2))).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('JSON Lines events: out-of-range values and 64-bit integers', () => {
  const d = new FlatEventDecoder(table);
  it('integers beyond 2^53 keep their exact value (times, and any integer field)', () => {
    const e = d.decodeLine('{"evt.type":"openat","evt.time":1764424800123456789,"fd.ino":18446744073709551615}', 1);
    expect(e.get(table, 'evt.time')).toBe(1_764_424_800_123_456_789n);
    expect(e.get(table, 'fd.ino')).toBe(18_446_744_073_709_551_615n);
    expect(compileCondition('fd.ino = 18446744073709551615', table).pred(e)).toBe(true);
    expect(compileCondition('fd.ino = 18446744073709551614', table).pred(e)).toBe(false);
  });

  it('times past year 9999, before 1970 or not finite, and numbers out of range are a bad line with its number', () => {
    for (const bad of [
      '{"evt.type":"openat","evt.time":1e300}',
      '{"evt.type":"openat","evt.time":-5}',
      '{"evt.type":"openat","evt.time":"2026-13-45T99:00:00Z"}',
      '{"evt.type":"openat","evt.time":999999999999999999999999999999}',
      '{"evt.type":"openat","user.uid":1e400}',
      '{"evt.type":"openat","proc.pid":"12ab"}',
    ]) {
      let err: unknown;
      try {
        const e = d.decodeLine(bad, 7);
        // a value may also be read as missing, never as a wrong number or a crash
        err =
          e.get(table, 'evt.time') === undefined &&
          e.get(table, 'user.uid') === undefined &&
          e.get(table, 'proc.pid') === undefined
            ? undefined
            : new Error(`accepted ${bad}`);
      } catch (x) {
        err = x;
      }
      if (err !== undefined) expect(err, bad).toBeInstanceOf(EventDecodeError);
      if (err !== undefined) expect((err as Error).message).toMatch(/^line 7: /);
    }
  });

  it('replay: a line longer than the limit is skipped without buffering it whole; the next line still decodes', async () => {
    const huge = `{"evt.type":"openat","proc.cmdline":"${'x'.repeat(3 * 1024 * 1024)}"}`;
    const input = Readable.from([
      `{"evt.type":"openat","proc.name":"a"}\n`,
      huge.slice(0, 1_000_000),
      huge.slice(1_000_000),
      `\n{"evt.type":"openat","proc.name":"b"}\n`,
    ]);
    const items: ReplayItem[] = [];
    for await (const it of readReplay(input, d, 64 * 1024)) items.push(it);
    expect(items.map((i) => ('event' in i ? i.event.get(table, 'proc.name') : i.error.message))).toEqual([
      'a',
      expect.stringMatching(/^line 2: line longer than 65536 bytes/),
      'b',
    ]);
    expect(items.map((i) => i.line)).toEqual([1, 2, 3]);
  });
});

describe('secrets read through *File keys', () => {
  it('never appear in validation errors, even where the key is not named like a secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'secret-'));
    writeFileSync(join(dir, 'url'), 'hxxp://user:hunter2@hooks.example/T0/B1/s3cr3tpath\n');
    let err: unknown;
    try {
      loadConfig(`sinks:\n  - type: webhook\n    urlFile: ${join(dir, 'url')}\n`, 'c.yaml', {});
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    expect(text).toMatch(/sinks\[0\]\.url/);
    expect(text).toMatch(/<redacted>/);
    expect(text).not.toMatch(/hunter2|s3cr3tpath|hooks\.example/);
  });
});

describe('the sensor listener', () => {
  it('refuses TCP without TLS: exit 1, saying what to do (TLS, a unix socket, or --insecure)', () => {
    const r = spawnSync(process.execPath, [PEREGRINE, 'sensor', '--listen', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /refusing to serve syscall events on TCP 127\.0\.0\.1:0 without TLS.*--tls-cert.*--insecure/,
    );
  });

  it('--socket-group: the socket is 0660 and its directory 0750, owned by that group', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sock-')), 'run');
    const sock = join(dir, 'sensor.sock');
    const child = spawn(process.execPath, [PEREGRINE, 'sensor', '--listen', `unix://${sock}`, '--socket-group', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    try {
      await until(() => err.includes('serving on') || child.exitCode !== null, 60_000);
      expect(child.exitCode, err).toBeNull();
      expect(existsSync(sock)).toBe(true);
      expect([
        (statSync(sock).mode & 0o777).toString(8),
        statSync(sock).gid,
        (statSync(dir).mode & 0o777).toString(8),
      ]).toEqual(['660', 0, '750']);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
  });
});
