/**
 * The bundled eBPF sensor against the real kernel: actions performed here (as root) must come
 * back as exact events, and the matching Falco rules must fire on them.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, loadRules } from '../src/engine/index.js';
import { checkSensorHost, type SensorEvent } from '../src/sensor/index.js';
import type { SyscallEvent } from '../src/event/index.js';
import { BUNDLED_RULES } from '../src/defaults.js';
import { run, startKernelCapture, type KernelCapture } from './helpers/kernel-capture.js';

let k: KernelCapture;
const dir = mkdtempSync(join(tmpdir(), 'peregrine-kernel-'));
const waitFor = (what: string, pred: (e: SensorEvent) => boolean, ms?: number): Promise<SensorEvent> =>
  k.waitFor(what, pred, ms);
const fired = (e: SensorEvent): string[] => k.fired(e);

beforeAll(async () => {
  k = await startKernelCapture();
}, 120_000);

afterAll(async () => {
  await k?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('bundled eBPF sensor on the real kernel', () => {
  it('cat /etc/shadow: exec and open events with the real pid, path, flags and ancestors', async () => {
    run('/usr/bin/cat', ['/etc/shadow']);
    const open = await waitFor(
      'open of /etc/shadow',
      (e) => e.name === 'cat' && e.params?.name === '/etc/shadow' && e.res >= 0,
    );
    const exec = await waitFor('exec of cat', (e) => e.type === 'execve' && e.pid === open.pid && e.res === 0);
    expect(exec).toMatchObject({
      exepath: '/usr/bin/cat',
      exe: '/usr/bin/cat',
      args: '/etc/shadow',
      ppid: process.pid,
      uid: 0,
      user: 'root',
      containerId: 'host',
    });
    expect(exec.ancestors![0]).toMatchObject({ pid: process.pid, exepath: process.execPath });
    expect(open.type).toBe('openat');
    expect(open.params!.flags).toMatch(/^O_RDONLY/);
    expect(open.fd).toMatchObject({ type: 'file', name: '/etc/shadow', num: open.res });
    const ev = k.agentEvent(open);
    expect([
      ev.get(k.table, 'fd.directory'),
      ev.get(k.table, 'evt.is_open_read'),
      ev.get(k.table, 'proc.pname'),
      ev.get(k.table, 'proc.cmdline'),
    ]).toEqual(['/etc', true, 'node', 'cat /etc/shadow']);
    expect(fired(open)).toEqual(expect.arrayContaining(['Read sensitive file untrusted', 'Read sensitive file']));
  });

  it("root's uid and gid are 0, not missing, through the sensor API: a rule on user.uid=0 fires", async () => {
    run('/usr/bin/cat', ['/etc/shadow']);
    const open = await waitFor(
      'open of /etc/shadow',
      (e) => e.name === 'cat' && e.params?.name === '/etc/shadow' && e.res >= 0,
    );
    const ev = k.agentEvent(open);
    expect([ev.get(k.table, 'user.uid'), ev.get(k.table, 'group.gid'), ev.get(k.table, 'user.name')]).toEqual([
      0,
      0,
      'root',
    ]);
    const dir0 = mkdtempSync(join(tmpdir(), 'uid0-'));
    const rules = join(dir0, 'r.yaml');
    (await import('node:fs')).writeFileSync(
      rules,
      '- rule: Root reads shadow\n  desc: d\n  condition: evt.type = openat and user.uid = 0 and group.gid = 0 and fd.name = /etc/shadow\n  output: "%user.uid %group.gid"\n  priority: warning\n',
    );
    const engine = new Engine(loadRules([rules], k.table), { hostname: 't' });
    const got: string[] = [];
    engine.evaluate(ev, (r) => got.push(engine.alert(r, ev).output.split(': ').slice(1).join(': ')));
    expect(got).toEqual(['Warning 0 0']);
  });

  it('a shell with a pseudo-terminal has a controlling tty', async () => {
    run('/usr/bin/script', ['-qc', '/bin/sh -c "exec /bin/true peregrine-tty-probe"', '/dev/null']);
    const e = await waitFor(
      'exec with a tty',
      (x) => x.type === 'execve' && x.args === 'peregrine-tty-probe' && x.res === 0,
    );
    expect(e.tty).toBeGreaterThan(0);
    expect(e.ancestors!.some((a) => a.name === 'script')).toBe(true);
  });

  it('a TCP connection duplicated onto stdin/stdout by a child shell (reverse shell)', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      run('/bin/bash', ['-c', `exec 5<>/dev/tcp/127.0.0.1/${port}; exec 0<&5 1>&5; exit 0`]);
      const conn = await waitFor('connect', (e) => e.type === 'connect' && e.fd?.sport === port);
      expect(conn.fd).toMatchObject({ type: 'ipv4', sip: '127.0.0.1', cip: '127.0.0.1', l4proto: 'tcp' });
      const dup = await waitFor(
        'dup2 onto stdin',
        (e) => e.type === 'dup2' && e.pid === conn.pid && e.res === 0 && e.fd?.type === 'ipv4',
      );
      expect(dup.fd).toMatchObject({ sport: port, sip: '127.0.0.1' });
      await waitFor('dup2 onto stdout', (e) => e.type === 'dup2' && e.pid === conn.pid && e.res === 1);
      expect(fired(dup)).toContain('Reverse shell');
    } finally {
      server.close();
    }
  });

  it('a symlink to /etc/shadow', async () => {
    run('/bin/ln', ['-s', '/etc/shadow', join(dir, 'shadow-link')]);
    const e = await waitFor(
      'symlink',
      (x) => (x.type === 'symlinkat' || x.type === 'symlink') && x.params?.linkpath === join(dir, 'shadow-link'),
    );
    expect(e.params!.target).toBe('/etc/shadow');
    expect(fired(e)).toContain('Create Symlink Over Sensitive Files');
  });

  it('a binary copied to /dev/shm and run', async () => {
    const bin = `/dev/shm/peregrine-test-${process.pid}`;
    copyFileSync('/bin/true', bin);
    try {
      execFileSync('chmod', ['+x', bin]);
      run(bin, ['from-shm']);
      const e = await waitFor('exec from /dev/shm', (x) => x.type === 'execve' && x.exepath === bin && x.res === 0);
      expect(e.args).toBe('from-shm');
      expect(fired(e)).toContain('Execution from /dev/shm');
    } finally {
      rmSync(bin, { force: true });
    }
  });

  it('a program run from a memfd_create file', async () => {
    run('/usr/bin/python3', [
      '-c',
      [
        'import os',
        "fd = os.memfd_create('peregrine-payload', 0)",
        "os.write(fd, open('/bin/sleep', 'rb').read())",
        "os.execv(f'/proc/self/fd/{fd}', ['payload', '0.5'])",
      ].join('\n'),
    ]);
    const mk = await waitFor(
      'memfd_create',
      (x) => x.type === 'memfd_create' && x.params?.name === 'peregrine-payload',
    );
    const e = await waitFor(
      'exec of the memfd',
      (x) => x.type === 'execve' && x.pid === mk.pid && x.exe === 'payload' && x.res === 0,
    );
    expect(e.exepath).toMatch(/^\/memfd:peregrine-payload/);
    expect(e.exeFlags! & 2).toBe(2);
    expect(fired(e)).toContain('Fileless execution via memfd');
  });

  it('ptrace(PTRACE_ATTACH) on a child', async () => {
    const child = spawn('/bin/sleep', ['5']);
    try {
      run('/usr/bin/python3', [
        '-c',
        ['import ctypes, sys', 'libc = ctypes.CDLL(None, use_errno=True)', `libc.ptrace(16, ${child.pid}, 0, 0)`].join(
          '\n',
        ),
      ]);
      const e = await waitFor('ptrace attach', (x) => x.type === 'ptrace' && x.params?.pid === String(child.pid));
      expect(e.params!.request).toBe('PTRACE_ATTACH');
      expect(e.res).toBe(0);
      expect(fired(e)).toEqual(expect.arrayContaining(['PTRACE attached to process', 'Ptrace attach to process']));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the sensor and the test runner do not flood the stream with their own activity', async () => {
    const before = k.events.length;
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = k.events.slice(before);
    const mine = idle.filter((e) => e.pid === process.pid);
    expect(
      mine.length,
      JSON.stringify(mine.slice(0, 3), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    ).toBe(0);
    expect(idle.filter((e) => e.pid === k.capture.pid || e.name.startsWith('peregrine-sen')).length).toBe(0);
    expect(idle.length).toBeLessThan(2_000);
    expect({ parseErrors: k.capture.stats.parseErrors, problems: k.capture.problems }).toEqual({
      parseErrors: 0,
      problems: [],
    });
  });
});

describe('bundled eBPF sensor: paths', () => {
  it('relative paths are resolved against the cwd (tracked through chdir and fork)', async () => {
    run('/bin/sh', ['-c', 'cd /etc && exec /usr/bin/head -c1 shadow']);
    const e = await waitFor('relative open of shadow', (x) => x.name === 'head' && x.params?.name === '/etc/shadow');
    expect(e.fd?.name).toBe('/etc/shadow');
  });
});

describe('peregrine sensor (the command) serving the sensor API on a unix socket', () => {
  it('streams real events to a sensor source; the bundled rules fire on them', async () => {
    const { PeregrineSensorSource } = await import('../src/sources/index.js');
    const { fileURLToPath } = await import('node:url');
    const sock = join(dir, 'sensor.sock');
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('../bin/peregrine.js', import.meta.url)), 'sensor', '--listen', `unix://${sock}`],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PEREGRINE_LOG_LEVEL: 'warn' } },
    );
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const source = new PeregrineSensorSource(
      { address: `unix://${sock}`, reconnect: { baseMs: 100, maxMs: 500 } },
      k.table,
    );
    try {
      const end = Date.now() + 60_000;
      while (!stderr.includes('serving on')) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`sensor did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await source.start();
      const it = source.batches()[Symbol.asyncIterator]();
      await new Promise((r) => setTimeout(r, 300));
      run('/usr/bin/cat', ['/etc/shadow']);
      const deadline = Date.now() + 15_000;
      let found: SyscallEvent | undefined;
      while (!found && Date.now() < deadline) {
        const r = await Promise.race([
          it.next(),
          new Promise<IteratorResult<never>>((res) =>
            setTimeout(() => res({ done: true, value: undefined as never }), 1_000),
          ),
        ]);
        if (!r.done && r.value.kind === 'events')
          found = r.value.events.find(
            (e) => e.get(k.table, 'fd.name') === '/etc/shadow' && e.get(k.table, 'proc.name') === 'cat',
          );
      }
      expect(found, stderr).toBeDefined();
      const defaults = new Engine(loadRules([BUNDLED_RULES], k.table), { ruleMatching: 'all', hostname: 't' });
      const hits: string[] = [];
      defaults.evaluate(found!, (r) => hits.push(r.name));
      expect(hits).toContain('Read sensitive file');
      expect(source.stats).toMatchObject({ malformed: 0, lost: 0 });
    } finally {
      await source.shutdown();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(stderr).toMatch(/stopped; \{"events":\d+/);
  });
});

describe('bundled eBPF sensor: address-bearing sends and receives', () => {
  it('sendto/sendmsg/recvfrom/recvmsg with an address are reported with both ends; connected sends are not', async () => {
    run('/usr/bin/python3', [
      '-c',
      [
        'import socket',
        "r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('127.0.0.1', 0)); p = r.getsockname()[1]",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('127.0.0.1', p)); s.sendmsg([b'y'], [], 0, ('127.0.0.1', p))",
        'r.recvfrom(10); r.recvmsg(10)',
        "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(('127.0.0.1', p)); c.send(b'z'); c.sendto(b'w', ('127.0.0.1', p))",
      ].join('\n'),
    ]);
    const send = await waitFor('sendto', (e) => e.type === 'sendto' && e.name === 'python3');
    const port = send.fd!.sport!;
    expect(send.fd).toMatchObject({ type: 'ipv4', sip: '127.0.0.1', l4proto: 'udp', isServer: false });
    const msg = await waitFor('sendmsg', (e) => e.type === 'sendmsg' && e.pid === send.pid);
    expect(msg.fd?.sport).toBe(port);
    const rf = await waitFor('recvfrom', (e) => e.type === 'recvfrom' && e.pid === send.pid);
    expect(rf.fd).toMatchObject({ sip: '127.0.0.1', sport: port, isServer: true, cport: send.fd!.cport });
    await waitFor('recvmsg', (e) => e.type === 'recvmsg' && e.pid === send.pid);
    const sends = k.events.filter((e) => e.pid === send.pid && e.type === 'sendto');
    expect(sends.length).toBe(2); // s.sendto and c.sendto; c.send names no address
  });
});

describe('the main job: peregrine run on embedded defaults', () => {
  it('cat /etc/shadow produces an alert on stdout within a second', async () => {
    const { fileURLToPath } = await import('node:url');
    const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/peregrine.js', import.meta.url)), 'run'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PEREGRINE_LOG_LEVEL: 'warn', PEREGRINE_METRICS__LISTEN: '127.0.0.1:0' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    try {
      const end = Date.now() + 60_000;
      while (!err.includes('running;')) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`peregrine run did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(err).toContain('bundled eBPF sensor capturing');
      await new Promise((r) => setTimeout(r, 500));
      const t0 = Date.now();
      run('/usr/bin/cat', ['/etc/shadow']);
      while (!out.includes('"rule":"Read sensitive file"') && Date.now() - t0 < 5_000)
        await new Promise((r) => setTimeout(r, 20));
      expect(out).toContain('"rule":"Read sensitive file"');
      expect(Date.now() - t0).toBeLessThan(1_000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('the sensor never goes blind silently', () => {
  it('the loader dies and restarts fail: restarts with backoff, readiness, metric and an internal alert say so; it recovers; SIGKILL of the agent takes the loader along; a stale socket is replaced at the next start', async () => {
    const { fileURLToPath } = await import('node:url');
    const { chmodSync, existsSync, writeFileSync } = await import('node:fs');
    const { freePort } = await import('./helpers/http-receiver.js');
    const real = checkSensorHost().loader;
    // the loader named by PEREGRINE_SENSOR_LOADER: a wrapper we can break and mend
    const bin = mkdtempSync(join(tmpdir(), 'loader-wrapper-'));
    const wrapper = join(bin, 'peregrine-sensor-loader');
    const mend = (): void => writeFileSync(wrapper, `#!/bin/sh\nexec ${real} "$@"\n`);
    const breakIt = (): void =>
      writeFileSync(wrapper, '#!/bin/sh\necho "ERROR: simulated: probes cannot attach" >&2\nexit 1\n');
    mend();
    chmodSync(wrapper, 0o755);
    const port = await freePort();
    const start = async (): Promise<{ child: ReturnType<typeof spawn>; out: () => string; err: () => string }> => {
      const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/peregrine.js', import.meta.url)), 'run'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          PEREGRINE_SENSOR_LOADER: wrapper,
          PEREGRINE_LOG_LEVEL: 'warn',
          PEREGRINE_METRICS__LISTEN: `127.0.0.1:${port}`,
        },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (err += c));
      const end = Date.now() + 60_000;
      while (!err.includes('running;')) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`peregrine run did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { child, out: () => out, err: () => err };
    };
    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, text: await r.text() };
    };
    const eventually = async (what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> => {
      const end = Date.now() + ms;
      while (!(await cond())) {
        if (Date.now() > end) throw new Error(`not reached in ${ms} ms: ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const loaderPid = (agent: number): number | undefined => {
      const kids = execFileSync('sh', ['-c', `pgrep -P ${agent} || true`], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
      return kids.find((k) =>
        /peregrine-sen/.test(
          execFileSync('sh', ['-c', `cat /proc/${k}/comm 2>/dev/null || true`], { encoding: 'utf8' }),
        ),
      );
    };

    const a = await start();
    try {
      await eventually('ready', async () => (await get('/readyz')).status === 200);
      const first = loaderPid(a.child.pid!);
      expect(first).toBeDefined();
      breakIt();
      process.kill(first!, 'SIGKILL');
      await eventually('not ready with the reason', async () =>
        /sensor not capturing/.test((await get('/readyz')).text),
      );
      expect((await get('/readyz')).status).toBe(503);
      await eventually('metric says not capturing', async () =>
        /^peregrine_source_upstream_healthy\{source="[^"]+"\} 0$/m.test((await get('/metrics')).text),
      );
      await eventually('internal alert', () => a.out().includes('"rule":"Peregrine internal: sensor not capturing"'));
      await eventually('a restart failed', () => /simulated: probes cannot attach/.test(a.err()));
      mend();
      await eventually('capturing again', async () => (await get('/readyz')).status === 200, 40_000);
      const again = loaderPid(a.child.pid!);
      expect(again).toBeDefined();
      expect(again).not.toBe(first);
      run('/usr/bin/cat', ['/etc/shadow']);
      await eventually('alert after recovery', () => a.out().includes('"rule":"Read sensitive file"'));
      // SIGKILL of the agent: the loader dies with it (parent-death signal)
      a.child.kill('SIGKILL');
      await new Promise((r) => a.child.once('exit', r));
      // dead: gone, or a zombie nobody reaps (on machines whose PID 1 does not reap orphans)
      const dead = (pid: number): boolean => {
        try {
          return /^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return true;
        }
      };
      await eventually('loader gone', () => dead(again!), 5_000);
      // what the killed agent left: its socket
      expect(existsSync('/run/peregrine/sensor.sock')).toBe(true);
    } finally {
      if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    }
    // the next start replaces the stale socket...
    const b = await start();
    try {
      // ...but a socket a live sensor serves is not taken over
      const c = spawnSync(
        process.execPath,
        [fileURLToPath(new URL('../bin/peregrine.js', import.meta.url)), 'sensor'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(c.status).toBe(1);
      expect(c.stderr).toMatch(/another sensor is serving on \/run\/peregrine\/sensor\.sock/);
      expect((await get('/readyz')).status).toBe(200);
      const { statSync } = await import('node:fs');
      expect((statSync('/run/peregrine/sensor.sock').mode & 0o777).toString(8)).toBe('600');
      expect((statSync('/run/peregrine').mode & 0o777).toString(8)).toBe('700');
    } finally {
      b.child.kill('SIGTERM');
      await new Promise((r) => b.child.once('exit', r));
    }
  });
});
