import type { SensorEvent } from '../../src/sensor/index.js';

/** A realistic sensor event: `cat /etc/shadow` in a container, ancestors bash ← runc. */
export function shadowRead(i = 0): SensorEvent {
  return {
    tsNs: 1_764_424_800_000_000_000n + BigInt(i),
    type: 'openat',
    res: 3,
    tid: 4242 + i,
    pid: 4242 + i,
    ppid: 4000,
    vpid: 12,
    name: 'cat',
    exe: 'cat',
    exepath: '/usr/bin/cat',
    args: '/etc/shadow',
    cwd: '/root',
    tty: 0,
    uid: 0,
    gid: 0,
    loginuid: -1,
    user: 'root',
    group: 'root',
    procStartNs: 1_764_424_799_000_000_000n,
    ancestors: [
      { name: 'bash', pid: 4000, exe: 'bash', exepath: '/usr/bin/bash', cmdline: 'bash' },
      { name: 'runc', pid: 3900, exe: 'runc', exepath: '/usr/bin/runc', cmdline: 'runc init' },
    ],
    fd: { num: 3, type: 'file', name: '/etc/shadow' },
    params: { flags: 'O_RDONLY|O_CLOEXEC', mode: '0', dirfd: '-100(AT_FDCWD)' },
    containerId: '3ad7b26ded6d',
  };
}

/** An outbound TCP connect. */
export function connect(i = 0): SensorEvent {
  return {
    tsNs: 1_764_424_800_000_000_000n + BigInt(i),
    type: 'connect',
    res: 0,
    tid: 5000,
    pid: 5000,
    ppid: 1,
    name: 'curl',
    exe: 'curl',
    exepath: '/usr/bin/curl',
    args: '-s https://example',
    uid: 1000,
    user: 'app',
    loginuid: 1000,
    ancestors: [{ name: 'sh', pid: 1 }],
    fd: {
      num: 5,
      type: 'ipv4',
      name: '10.0.0.5:40112->10.96.0.1:443',
      cip: '10.0.0.5',
      sip: '10.96.0.1',
      cport: 40112,
      sport: 443,
      l4proto: 'tcp',
    },
    params: { addr: '10.96.0.1:443' },
    containerId: '3ad7b26ded6d',
  };
}
