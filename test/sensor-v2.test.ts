/**
 * Sensor v2 on the real kernel: binary records that a traced process cannot forge or split, the
 * fields read in the kernel at the event (path as passed, capabilities, overlayfs upper layer,
 * IPv6, PID namespaces, long paths), and the kernel-side filter following the rules.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeregrineSensorSource } from '../src/sources/index.js';
import { checkSensorHost, startBundledSensor, syscallByName, type SensorEvent } from '../src/sensor/index.js';
import { Engine, loadRules } from '../src/engine/index.js';
import { FieldKeyTable } from '../src/event/index.js';
import { run, startKernelCapture, type KernelCapture } from './helpers/kernel-capture.js';
import { until } from './helpers/wait.js';

let k: KernelCapture;
const dir = mkdtempSync(join(tmpdir(), 'peregrine-v2-'));
chmodSync(dir, 0o755);

beforeAll(async () => {
  k = await startKernelCapture();
}, 120_000);

afterAll(async () => {
  await k?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Whether a rule with `condition` fires on the event (as the agent evaluates it). */
function matches(e: SensorEvent, condition: string): boolean {
  const file = join(dir, `rule-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `- rule: probe\n  desc: d\n  condition: ${JSON.stringify(condition)}\n  output: o\n  priority: notice\n`,
  );
  const engine = new Engine(loadRules([file], k.table), { hostname: 't' });
  let hit = false;
  engine.evaluate(k.agentEvent(e), () => (hit = true));
  return hit;
}

const python = (code: string[], opts: { cwd?: string } = {}): void =>
  run('/usr/bin/python3', ['-c', code.join('\n')], opts);

describe('records a traced process cannot forge or hide behind', () => {
  it("as nobody: a path with newlines and tabs forges no event, and a comm renamed to contain '\\n' hides none of its later events", async () => {
    const crafted = join(dir, 'x\ncomm=FORGED pid=4242 file=/etc/shadow\tQ\t1\n\x01');
    const marker = join(dir, `after-rename-${process.pid}`);
    run('/usr/bin/setpriv', [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      '/usr/bin/python3',
      '-c',
      [
        'import ctypes, sys',
        'try: open(sys.argv[1])',
        'except OSError: pass',
        "ctypes.CDLL(None).prctl(15, b'evil\\nname\\tx', 0, 0, 0)",
        'try: open(sys.argv[2])',
        'except OSError: pass',
      ].join('\n'),
      crafted,
      marker,
    ]);
    const forgedPath = await k.waitFor('the crafted open', (e) => e.type === 'openat' && e.params?.name === crafted);
    expect(forgedPath.uid).toBe(65534);
    expect(forgedPath.fd?.nameRaw).toBe(crafted);
    const after = await k.waitFor('the renamed process', (e) => e.params?.name === marker);
    expect(after.name).toBe('evil\nname\tx');
    expect(after.pid).toBe(forgedPath.pid);
    expect(k.events.filter((e) => e.name === 'FORGED' || e.pid === 4242)).toEqual([]);
    expect(k.capture.stats.parseErrors).toBe(0);
    // and through the agent's decoder, the name stays one field
    expect(k.agentEvent(after).get(k.table, 'proc.name')).toBe('evil\nname\tx');
  });
});

describe('fields read in the kernel at the event', () => {
  it('fd.nameraw keeps the path exactly as passed (relative, with ..) while fd.name is resolved', async () => {
    const sub = join(dir, 'a', 'b');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'target'), 'x');
    const raw = '../../a/./b/../b/target';
    python([`open(${JSON.stringify(raw)}).read()`], { cwd: sub });
    const e = await k.waitFor('relative open', (x) => x.type === 'openat' && x.fd?.nameRaw === raw);
    expect(e.fd!.name).toBe(join(sub, 'target'));
    const ev = k.agentEvent(e);
    expect([ev.get(k.table, 'fd.nameraw'), ev.get(k.table, 'fd.name')]).toEqual([raw, join(sub, 'target')]);
  });

  it('capabilities of a process that dropped some: effective, permitted and inheritable sets', async () => {
    run('/usr/bin/setpriv', ['--bounding-set=-all,+chown,+kill', '--inh-caps=-all', '/usr/bin/cat', `/etc/hostname`]);
    const e = await k.waitFor(
      'cat with two capabilities',
      (x) =>
        x.type === 'openat' && x.name === 'cat' && x.params?.name === '/etc/hostname' && x.capEffective === 0b100001n,
    );
    const ev = k.agentEvent(e);
    expect([
      ev.get(k.table, 'thread.cap_effective'),
      ev.get(k.table, 'thread.cap_permitted'),
      ev.get(k.table, 'thread.cap_inheritable'),
    ]).toEqual(['CAP_CHOWN CAP_KILL', 'CAP_CHOWN CAP_KILL', '']);
    // root without restrictions has the full set, CAP_SYS_ADMIN included
    run('/usr/bin/cat', ['/etc/hostname']);
    const full = await k.waitFor(
      'cat with all capabilities',
      (x) => x.name === 'cat' && x.params?.name === '/etc/hostname' && (x.capEffective ?? 0n) > 0b100001n,
    );
    expect(k.agentEvent(full).get(k.table, 'thread.cap_effective')).toContain('CAP_SYS_ADMIN');
  });

  it('an executable on an overlayfs upper layer is flagged; one from the lower layer is not', async () => {
    const ov = join(dir, 'overlay');
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(ov, d), { recursive: true });
    copyFileSync('/bin/true', join(ov, 'lower', 'lower-true'));
    execFileSync('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${ov}/lower,upperdir=${ov}/upper,workdir=${ov}/work`,
      `${ov}/merged`,
    ]);
    try {
      copyFileSync('/bin/true', join(ov, 'merged', 'upper-true'));
      chmodSync(join(ov, 'merged', 'upper-true'), 0o755);
      run(join(ov, 'merged', 'lower-true'), ['from-lower']);
      run(join(ov, 'merged', 'upper-true'), ['from-upper']);
      const lower = await k.waitFor('exec from lower', (x) => x.type === 'execve' && x.args === 'from-lower');
      const upper = await k.waitFor('exec from upper', (x) => x.type === 'execve' && x.args === 'from-upper');
      expect([lower.exeFlags! & 1, upper.exeFlags! & 1]).toEqual([0, 1]);
      expect(k.agentEvent(upper).get(k.table, 'proc.is_exe_upper_layer')).toBe(true);
      expect(k.agentEvent(lower).get(k.table, 'proc.is_exe_upper_layer')).toBe(false);
      // the executable's inode and times, from the kernel
      expect(upper.exeIno).toBeGreaterThan(0);
      expect(Number(upper.exeMtimeNs! / 1_000_000n)).toBeGreaterThan(Date.now() - 120_000);
    } finally {
      execFileSync('umount', [`${ov}/merged`]);
    }
  });

  it('an IPv6 connect carries both ends as IPv6', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '::1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      python(['import socket', `socket.create_connection(('::1', ${port})).close()`]);
      const e = await k.waitFor('IPv6 connect', (x) => x.type === 'connect' && x.fd?.sport === port);
      expect(e.fd).toMatchObject({ type: 'ipv6', sip: '::1', cip: '::1', l4proto: 'tcp' });
      expect(e.fd!.name).toBe(`::1:${e.fd!.cport}->::1:${port}`);
      const ev = k.agentEvent(e);
      expect([ev.get(k.table, 'fd.typechar'), ev.get(k.table, 'fd.sockfamily')]).toEqual(['6', 'ip']);
      // the derived and either-end fields the upstream rules use, through a compiled rule
      expect(
        matches(
          e,
          `fd.port = ${port} and fd.ip = "::1" and fd.net = "::1/128" and fd.rnet = "::1/128" and fd.connected = true and fd.name_changed = true and proc.is_vpgid_leader exists and proc.aexe[1] exists`,
        ),
      ).toBe(true);
    } finally {
      server.close();
    }
  });

  it('a process in its own PID namespace carries its host pid and its namespace pid', async () => {
    run('/usr/bin/unshare', ['-p', '-f', '/bin/sh', '-c', 'exec /usr/bin/cat /etc/hostname']);
    const e = await k.waitFor(
      'cat in a pid namespace',
      (x) => x.type === 'openat' && x.name === 'cat' && x.params?.name === '/etc/hostname' && x.vpid === 1,
    );
    expect(e.pid).toBeGreaterThan(1);
    expect(e.vtid).toBe(1);
    const ev = k.agentEvent(e);
    expect([ev.get(k.table, 'proc.vpid'), ev.get(k.table, 'thread.vtid')]).toEqual([1, 1]);
    expect(ev.get(k.table, 'proc.pid')).toBe(e.pid);
  });

  it('ancestors beyond the five the kernel reads come from the process table, as deep as rules look', async () => {
    const nest = join(dir, 'nest.sh');
    writeFileSync(nest, 'if [ "$1" -gt 0 ]; then /bin/sh "$0" $(($1 - 1)); else /usr/bin/cat /etc/hostname; fi\n');
    run('/bin/sh', [nest, '9']);
    const e = await k.waitFor(
      'cat under ten shells',
      (x) =>
        x.type === 'openat' &&
        x.name === 'cat' &&
        x.params?.name === '/etc/hostname' &&
        (x.ancestors ?? []).slice(0, 10).filter((a) => a.name === 'sh').length === 10,
    );
    expect(e.ancestors!.slice(0, 10).map((a) => a.name)).toEqual(Array(10).fill('sh'));
    expect(e.ancestors![10]).toMatchObject({ pid: process.pid, exepath: process.execPath });
    const ev = k.agentEvent(e);
    expect([ev.get(k.table, 'proc.aname[8]'), ev.get(k.table, 'proc.apid[11]')]).toEqual(['sh', process.pid]);
    expect(matches(e, 'proc.aname = node and proc.aname[10] = sh')).toBe(true);
  });

  it('an exec by a thread that is not the leader is reported (it returns in the leader: no hiding there)', async () => {
    python([
      'import os, threading, time',
      "t = threading.Thread(target=lambda: os.execv('/bin/true', ['true', 'exec-from-thread']))",
      't.start()',
      'time.sleep(5)',
    ]);
    const e = await k.waitFor('exec from a thread', (x) => x.type === 'execve' && x.args === 'exec-from-thread');
    expect(e.res).toBe(0);
    expect(e.exepath).toMatch(/^(\/usr)?\/bin\/true$/); // resolved, or as exec'd when /proc is already gone
    expect(e.name).toBe('true');
  });

  it('a path of 4,000 bytes arrives complete (nothing cut at 200 bytes)', async () => {
    let long = dir;
    while (long.length < 3_900) long = join(long, 'd'.repeat(200));
    mkdirSync(long, { recursive: true });
    const file = join(long, 'the-end');
    writeFileSync(file, 'x');
    expect(file.length).toBeGreaterThan(3_900);
    run('/usr/bin/cat', [file]);
    const e = await k.waitFor('long open', (x) => x.type === 'openat' && x.name === 'cat' && x.fd?.nameRaw === file);
    expect(e.fd!.name).toBe(file);
    expect((e.truncated ?? 0) & 4).toBe(0); // no path cut (a large environment may be: bit 2)
  });

  it('arguments beyond the bound are cut and flagged, never silently', async () => {
    const many = Array.from({ length: 400 }, (_, i) => `argument-${i}`);
    run('/bin/true', many);
    const e = await k.waitFor(
      'exec with long argv',
      (x) => x.type === 'execve' && x.res === 0 && (x.args ?? '').startsWith('argument-0 argument-1'),
    );
    expect(e.truncated! & 1).toBe(1);
    expect(String(k.agentEvent(e).get(k.table, 'evt.truncated')).split(',')).toContain('args');
  });
});

describe('loss is counted, never blocking', () => {
  it('a stalled reader: the ring fills, the traced process does not wait, and the drops are counted per CPU and reach the stream', async () => {
    const { loader } = checkSensorHost();
    const sock = join(dir, 'loss.sock');
    // a one-page ring: a few records fill it
    const sensor = await startBundledSensor({ loader, listen: `unix://${sock}`, ringBytes: 4096 });
    const table = new FieldKeyTable();
    const source = new PeregrineSensorSource({ address: `unix://${sock}`, eventTypes: ['openat'] }, table);
    try {
      await source.start();
      void (async () => {
        for await (const _ of source.batches()) if (source.stats.lost > 0) break;
      })();
      await until(() => sensor.server.stats.subscribers === 1, 10_000);
      const pid = sensor.capture.pid!;
      process.kill(pid, 'SIGSTOP');
      const t0 = Date.now();
      try {
        python(['import os', 'for i in range(3000): os.close(os.open("/etc/hostname", os.O_RDONLY))']);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect(Date.now() - t0).toBeLessThan(5_000); // the traced process ran on while nobody read
      await until(() => sensor.capture.stats.kernelLost > 0, 10_000);
      const perCpu = sensor.capture.kernelLostPerCpu;
      expect(perCpu.reduce((a, b) => a + b, 0)).toBe(sensor.capture.stats.kernelLost);
      expect(sensor.capture.stats.kernelLost).toBeGreaterThan(1_000);
      await until(() => source.stats.lost >= sensor.capture.stats.kernelLost, 10_000);
      expect(sensor.server.stats.eventsLost).toBe(sensor.capture.stats.kernelLost);
    } finally {
      await source.shutdown();
      await sensor.shutdown();
    }
  });
});

describe('kernel-side filtering follows the rules', () => {
  it('the kernel emits only the event types subscribers ask for: the set shrinks and grows with them', async () => {
    const { loader } = checkSensorHost();
    const sock = join(dir, 'filter.sock');
    const sensor = await startBundledSensor({ loader, listen: `unix://${sock}` });
    const table = new FieldKeyTable();
    const source = new PeregrineSensorSource(
      { address: `unix://${sock}`, eventTypes: ['openat'], reconnect: { baseMs: 50, maxMs: 200 } },
      table,
    );
    const nr = (name: string): number => syscallByName(name)!.nr;
    const got: Array<{ type: unknown; path: unknown }> = [];
    let reading = true;
    try {
      await source.start();
      void (async () => {
        for await (const b of source.batches()) {
          if (b.kind === 'events')
            for (const e of b.events) got.push({ type: e.get(table, 'evt.type'), path: e.get(table, 'evt.arg.path') });
          if (!reading) break;
        }
      })();
      await until(() => sensor.server.stats.subscribers === 1, 10_000);
      await until(() => !sensor.capture.enabledSyscalls.includes(nr('mkdir')), 10_000);
      expect(sensor.capture.enabledSyscalls).toContain(nr('openat'));
      expect(sensor.capture.enabledSyscalls).not.toContain(nr('connect'));
      // a mkdir now is not even emitted by the kernel: the sensor never sees it
      const d1 = join(dir, `filtered-out-${process.pid}`);
      run('/bin/mkdir', [d1]);
      await k.waitFor(
        'the mkdir (seen by a capture of everything)',
        (e) => e.type === 'mkdir' && e.params?.path === d1,
      );
      const d2 = join(dir, `captured-${process.pid}`);
      // the rules grow (after a reload the agent does this): mkdir is emitted again
      source.setEventTypes(['openat', 'mkdir', 'mkdirat']);
      await until(() => sensor.capture.enabledSyscalls.includes(nr('mkdir')), 10_000);
      await until(() => sensor.server.stats.subscribers === 1, 10_000);
      // (made again every half second until seen: the stream is re-opened meanwhile)
      for (let i = 0; !got.some((e) => String(e.path).startsWith(d2)); i++) {
        if (i > 40) throw new Error(`no mkdir event after the types grew; got ${JSON.stringify(got.slice(-5))}`);
        run('/bin/mkdir', [`${d2}-${i}`]);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(got.some((e) => e.path === d1)).toBe(false);
      // a second subscriber (anyone who can reach the socket) asking for less narrows nothing:
      // the kernel captures the union
      const narrow = new PeregrineSensorSource({ address: `unix://${sock}`, eventTypes: ['execve'] }, table);
      await narrow.start();
      await until(() => sensor.server.stats.subscribers === 2, 10_000);
      expect(sensor.capture.enabledSyscalls).toEqual(expect.arrayContaining([nr('openat'), nr('mkdir')]));
      await narrow.shutdown();
      await until(() => sensor.server.stats.subscribers === 1, 10_000);
      expect(sensor.capture.enabledSyscalls).toContain(nr('mkdir'));
      // and shrink again
      source.setEventTypes(['openat']);
      await until(() => !sensor.capture.enabledSyscalls.includes(nr('mkdir')), 10_000);
      // rules that match any type: everything
      source.setEventTypes(undefined);
      await until(() => sensor.capture.enabledSyscalls.includes(nr('connect')), 10_000);
    } finally {
      reading = false;
      await source.shutdown();
      await sensor.shutdown();
    }
  });
});
