import { describe, expect, it } from 'vitest';
import type { SensorEvent } from './batch-encoder.js';
import { BpftraceAssembler } from './bpftrace-assembler.js';
import { ProcessTable, containerIdFromCgroup } from './process-table.js';

const ID = '3ad7b26ded6d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f001';

describe('container id from the cgroup path', () => {
  it.each([
    [
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-${ID}.scope`,
      ID.slice(0, 12),
    ],
    [`0::/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope`, ID.slice(0, 12)],
    [`12:memory:/docker/${ID}`, ID.slice(0, 12)],
    [`0::/system.slice/docker-${ID}.scope`, ID.slice(0, 12)],
    // cgroupfs driver (kubelet without systemd), cgroup v1: one line per controller
    [`4:memory:/kubepods/besteffort/pod0f1e2d3c-aaaa-bbbb-cccc-111122223333/${ID}`, ID.slice(0, 12)],
    [`0::/kubepods/burstable/pod0f1e2d3c-aaaa-bbbb-cccc-111122223333/${ID}`, ID.slice(0, 12)],
    // CRI-O's conmon sits beside the container: not the container
    [`0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-${ID}.scope`, 'host'],
    ['0::/user.slice/user-0.slice/session-1.scope', 'host'],
    ['unified:/,blkio:/,cpu:/', 'host'],
  ])('%s', (path, want) => expect(containerIdFromCgroup(path)).toBe(want));
});

describe('bpftrace record assembly', () => {
  const P = (tid: number, type: string, ret: number): string =>
    ['P', tid, 1000, type, ret, tid, 0, 0, 4294967295, 1, 136, 0, 'sh', 1, 'init', 0, '', 0, '', 0, '', 0, ''].join(
      '\t',
    );
  const Q = (tid: number, type: string, ret: number): string =>
    ['Q', tid, 2000, type, ret, tid, 1000, 1000, 1000, 1, 0, 0, 'cat', 1, 0, 0, 0, 0].join('\t');

  it('joins records by tid, renders flags, reads argv with newlines, and counts what it cannot parse', () => {
    const a = new BpftraceAssembler(5n, new ProcessTable(16, '/nonexistent-proc'));
    const out: SensorEvent[] = [];
    for (const l of [
      'J\t99\t/bin/sh',
      'sh\x1f-c\x1fecho a',
      'echo b',
      P(99, 'execve', 0),
      'A\t99\texecve\t',
      'C\t99\t0::/',
      'E\t99\tsh',
      Q(99, 'openat', 3),
      'A\t99\topenat\t-100\t577\t420\t/tmp/x y',
      'garbage line',
      'A\t12345\topenat\t1\t2\t3\t/orphan',
    ])
      a.line(l, out);
    a.flush(out, 0);
    expect(out.map((e) => e.type)).toEqual(['execve', 'openat']);
    const [exec, open] = out;
    expect(exec).toMatchObject({
      exepath: '/bin/sh',
      exe: 'sh',
      args: '-c echo a\necho b',
      tty: 34816,
      loginuid: -1,
      tsNs: 1005n,
      containerId: 'host',
    });
    expect(open).toMatchObject({
      res: 3,
      uid: 1000,
      loginuid: 1000,
      params: { name: '/tmp/x y', flags: 'O_WRONLY|O_CREAT|O_TRUNC', mode: '0644' },
      fd: { num: 3, type: 'file', name: '/tmp/x y' },
    });
    expect(open.ancestors?.[0]).toMatchObject({ pid: 1, name: 'init' });
    expect(a.stats.parseErrors).toBe(2);
    expect(a.badLines).toEqual(['garbage line', 'A\t12345\topenat\t1\t2\t3\t/orphan']);
  });

  it("other CPUs' records between an exec's J record, its argv line and the argv's continuation lines do not lose the argv", () => {
    const a = new BpftraceAssembler(5n, new ProcessTable(16, '/nonexistent-proc'));
    const out: SensorEvent[] = [];
    for (const l of [
      'J\t99\t/usr/bin/python3',
      Q(7, 'openat', 3),
      'A\t7\topenat\t-100\t0\t0\t/etc/hosts',
      'python3\x1f-c\x1fimport ctypes',
      Q(8, 'openat', 4),
      'A\t8\topenat\t-100\t0\t0\t/etc/passwd',
      'libc = ctypes.CDLL(None)',
      P(99, 'execve', 0),
      'A\t99\texecve\t',
      'C\t99\t0::/',
      'E\t99\tpython3',
    ])
      a.line(l, out);
    a.flush(out, 0);
    expect(out.find((e) => e.type === 'execve')).toMatchObject({
      exepath: '/usr/bin/python3',
      args: '-c import ctypes\nlibc = ctypes.CDLL(None)',
    });
    expect(a.badLines).toEqual([]);
  });
});
