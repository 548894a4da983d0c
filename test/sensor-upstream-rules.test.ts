/**
 * Falco's own falco_rules.yaml against real attacks on this machine, captured by the sensor v2:
 * every rule whose fields the sensor fills and whose attack is harmless here fires on the real
 * thing (on the host, or in a pod of a real containerd). docs/sensor.md lists the rules left
 * out and why.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SensorEvent } from '../src/sensor/index.js';
import { startContainerd, type TestContainerd } from './helpers/containerd.js';
import { startKernelCapture, type KernelCapture } from './helpers/kernel-capture.js';

let k: KernelCapture;
let ctd: TestContainerd;
const dir = mkdtempSync(join(tmpdir(), 'peregrine-attacks-'));
chmodSync(dir, 0o755);

beforeAll(async () => {
  k = await startKernelCapture();
  ctd = await startContainerd();
}, 180_000);

afterAll(async () => {
  await ctd?.stop();
  await k?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Runs a command whatever its exit status (attacks often fail, harmlessly). */
function attempt(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000, env: env ?? process.env });
}

/** The first event from `from` on that makes upstream `rule` fire. */
async function fires(rule: string, from: number, ms = 15_000): Promise<SensorEvent> {
  const end = Date.now() + ms;
  let i = from;
  for (;;) {
    for (; i < k.events.length; i++) if (k.fired(k.events[i]).includes(rule)) return k.events[i];
    if (Date.now() > end) throw new Error(`"${rule}" did not fire within ${ms} ms (${k.events.length - from} events)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A copy of python3 under another name (proc.name is the executable's file name). */
function pythonNamed(name: string): string {
  const d = join(dir, `as-${name}`);
  mkdirSync(d, { recursive: true });
  const bin = join(d, name);
  copyFileSync('/usr/bin/python3', bin);
  chmodSync(bin, 0o755);
  return bin;
}

const HOST_ATTACKS: ReadonlyArray<{ rule: string; attack: () => void; ms?: number }> = [
  {
    rule: 'Directory traversal monitored file read',
    attack: () => attempt('/usr/bin/cat', ['/etc/../etc/../etc/shadow']),
  },
  { rule: 'Read sensitive file untrusted', attack: () => attempt('/usr/bin/cat', ['/etc/shadow']) },
  {
    rule: 'Read sensitive file trusted after startup',
    // a server process (nginx) reading /etc/shadow after its first 5 seconds
    attack: () => attempt(pythonNamed('nginx'), ['-c', "import time; time.sleep(5.5); open('/etc/shadow').read()"]),
    ms: 20_000,
  },
  {
    rule: 'Run shell untrusted',
    attack: () => attempt(pythonNamed('nginx'), ['-c', "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'])"]),
  },
  {
    rule: 'System user interactive',
    // a program named login run as nobody
    attack: () => {
      const login = join(dir, 'login');
      copyFileSync('/bin/true', login);
      chmodSync(login, 0o755);
      attempt('/usr/bin/setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', login]);
    },
  },
  { rule: 'Search Private Keys or Passwords', attack: () => attempt('/usr/bin/find', [dir, '-name', 'id_rsa']) },
  {
    rule: 'Clear Log Activities',
    attack: () => {
      const log = `/var/log/peregrine-test-${process.pid}.log`;
      writeFileSync(log, 'evidence\n');
      attempt('/usr/bin/python3', ['-c', `open(${JSON.stringify(log)}, 'w').close()`]);
      rmSync(log, { force: true });
    },
  },
  {
    rule: 'Remove Bulk Data from Disk',
    attack: () => {
      writeFileSync(join(dir, 'data'), 'x'.repeat(1000));
      attempt('/usr/bin/shred', ['-u', join(dir, 'data')]);
    },
  },
  {
    rule: 'Create Symlink Over Sensitive Files',
    attack: () => attempt('/usr/bin/ln', ['-s', '/etc/shadow', join(dir, `shadow-sym-${Date.now()}`)]),
  },
  {
    rule: 'Create Hardlink Over Sensitive Files',
    attack: () => attempt('/usr/bin/ln', ['/etc/shadow', join(dir, `shadow-hard-${Date.now()}`)]),
  },
  {
    rule: 'PTRACE attached to process',
    attack: () => {
      const child = spawn('/bin/sleep', ['5']);
      attempt('/usr/bin/python3', [
        '-c',
        `import ctypes; ctypes.CDLL(None, use_errno=True).ptrace(16, ${child.pid}, 0, 0)`,
      ]);
      child.kill('SIGKILL');
    },
  },
  {
    rule: 'PTRACE anti-debug attempt',
    attack: () => attempt('/usr/bin/python3', ['-c', 'import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)']),
  },
  {
    rule: 'Find AWS Credentials',
    attack: () => attempt('/usr/bin/find', [dir, '-path', '*/.aws/credentials']),
  },
  {
    rule: 'Execution from /dev/shm',
    attack: () => {
      const bin = `/dev/shm/peregrine-attack-${process.pid}`;
      copyFileSync('/bin/true', bin);
      chmodSync(bin, 0o755);
      attempt(bin, []);
      rmSync(bin, { force: true });
    },
  },
  {
    rule: 'Fileless execution via memfd_create',
    attack: () =>
      attempt('/usr/bin/python3', [
        '-c',
        [
          'import os',
          "fd = os.memfd_create('x', 0)",
          "os.write(fd, open('/bin/true', 'rb').read())",
          "os.execv(f'/proc/self/fd/{fd}', ['x'])",
        ].join('\n'),
      ]),
  },
  {
    rule: 'Disallowed SSH Connection Non Standard Port',
    // an "ssh" (argv[0]) connecting to port 4444 of a link-local peer in our own network namespace
    attack: () => {
      const ns = `pgssh${process.pid}`;
      const sh = (c: string): void => void execFileSync('sh', ['-c', c], { stdio: 'ignore' });
      sh(
        `ip netns add ${ns} && ip link add pgs${process.pid} type veth peer name pgp${process.pid} && ` +
          `ip link set pgp${process.pid} netns ${ns} && ip addr add 169.254.77.1/30 dev pgs${process.pid} && ` +
          `ip link set pgs${process.pid} up && ip netns exec ${ns} ip addr add 169.254.77.2/30 dev pgp${process.pid} && ` +
          `ip netns exec ${ns} ip link set pgp${process.pid} up`,
      );
      const server = spawn('ip', [
        'netns',
        'exec',
        ns,
        'python3',
        '-c',
        "import socket,time; s=socket.socket(); s.bind(('169.254.77.2', 4444)); s.listen(); print('up', flush=True); c=s.accept(); time.sleep(1)",
      ]);
      try {
        execFileSync('sh', ['-c', 'sleep 0.5']);
        attempt('/bin/bash', [
          '-c',
          `exec -a ssh /usr/bin/python3 -c "import socket; socket.create_connection(('169.254.77.2', 4444), timeout=5).close()"`,
        ]);
      } finally {
        server.kill('SIGKILL');
        sh(`ip link del pgs${process.pid} 2>/dev/null; ip netns del ${ns}`);
      }
    },
  },
];

describe('upstream falco_rules.yaml fires on real attacks on the host', () => {
  for (const a of HOST_ATTACKS) {
    it(
      a.rule,
      async () => {
        const from = k.events.length;
        a.attack();
        const e = await fires(a.rule, from, a.ms);
        expect(e.containerId).toBe('host');
      },
      40_000,
    );
  }
});

describe('upstream falco_rules.yaml fires on real attacks in a pod (containerd)', () => {
  const inPod = async (
    rule: string,
    script: string,
    privileged = false,
  ): Promise<{ e: SensorEvent; containerId: string }> => {
    const from = k.events.length;
    const pod = await ctd.runPod({
      name: `attack-${rule
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .slice(0, 40)}`,
      namespace: 'attacks',
      privileged,
      command: ['/bin/sh', '-c', `busybox mkdir -p /tmp; ${script}; exec sleep 3600`],
    });
    const e = await fires(rule, from, 20_000);
    return { e, containerId: pod.containerId };
  };

  it('Drop and execute new binary in container (an executable written into the upper layer)', async () => {
    const { e, containerId } = await inPod(
      'Drop and execute new binary in container',
      'busybox cp /bin/busybox /tmp/dropped; /tmp/dropped true',
    );
    expect(e.containerId).toBe(containerId.slice(0, 12));
    expect(e.exeFlags! & 1).toBe(1);
  }, 60_000);

  it('Netcat Remote Code Execution in Container, and Redirect STDOUT/STDIN to Network Connection in Container', async () => {
    const from = k.events.length;
    const { containerId } = await inPod(
      'Netcat Remote Code Execution in Container',
      'busybox ln -s /bin/busybox /tmp/nc; /tmp/nc -l -p 7777 & busybox sleep 0.5; /tmp/nc 127.0.0.1 7777 -e /bin/true',
    );
    const dup = await fires('Redirect STDOUT/STDIN to Network Connection in Container', from);
    expect(dup.containerId).toBe(containerId.slice(0, 12));
  }, 60_000);

  it('Linux Kernel Module Injection Detected, and Detect release_agent File Container Escapes (privileged pod)', async () => {
    const from = k.events.length;
    const { e } = await inPod(
      'Linux Kernel Module Injection Detected',
      'busybox insmod /etc/passwd; echo x > /tmp/release_agent',
      true,
    );
    expect(e.capEffective! & (1n << 16n)).toBe(1n << 16n); // CAP_SYS_MODULE
    await fires('Detect release_agent File Container Escapes', from);
  }, 60_000);

  it('Packet socket created in container', async () => {
    await inPod('Packet socket created in container', 'busybox arping -c 1 -w 1 169.254.1.1');
  }, 60_000);
});

describe('upstream falco_rules.yaml: an interactive shell in a container', () => {
  it('Terminal shell in container (a shell exec-ed into a running container with a terminal, as kubectl exec -it)', async () => {
    const pod = await ctd.runPod({ name: 'attack-terminal', namespace: 'attacks' });
    const from = k.events.length;
    // a pseudo-terminal for `ctr task exec --tty`, as kubectl exec -it gives one
    attempt('/usr/bin/script', [
      '-qc',
      `ctr -a ${ctd.socket} -n k8s.io task exec -t --exec-id term-${Date.now()} ${pod.containerId} /bin/sh -c true`,
      '/dev/null',
    ]);
    const e = await fires('Terminal shell in container', from, 20_000);
    expect(e.tty).toBeGreaterThan(0);
    expect(e.containerId).toBe(pod.containerId.slice(0, 12));
  }, 60_000);
});
