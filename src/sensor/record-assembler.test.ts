import { describe, expect, it } from 'vitest';
import type { SensorEvent } from './batch-encoder.js';
import { containerIdFromCgroup, ProcessTable } from './process-table.js';
import { RecordAssembler } from './record-assembler.js';
import { ARGS_AT, BLOBS_AT, HDR, NAMED_AT, NBLOBS_AT, PROC, PROC_AT, REC, SOCK_AT } from './record-layout.js';
import { syscallByName } from './syscall-table.js';

/** A PG_SYSCALL record as the kernel program writes it (sensor/record.h). */
function syscallRecord(o: {
  nr: number;
  pid: number;
  res?: number;
  comm: string;
  args?: number[];
  blobs?: Array<{ text: string; flags?: number }>;
  ppid?: number;
  ancestors?: number[];
}): Buffer {
  const blobs = (o.blobs ?? [{ text: '' }, { text: '' }, { text: '' }]).map((b) => ({
    bytes: Buffer.from(b.text),
    flags: b.flags ?? 0,
  }));
  const size = BLOBS_AT + blobs.reduce((n, b) => n + 4 + b.bytes.length, 0);
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(size, HDR.SIZE);
  buf.writeUInt16LE(REC.SYSCALL, HDR.TYPE);
  buf.writeUInt16LE(o.nr, HDR.NR);
  buf.writeBigUInt64LE(1_000n, HDR.TS);
  buf.writeUInt32LE(o.pid, HDR.TID);
  buf.writeUInt32LE(o.pid, HDR.PID);
  buf.writeBigInt64LE(BigInt(o.res ?? 0), HDR.RES);
  buf.writeUInt32LE(o.ppid ?? 1, PROC_AT + PROC.PPID);
  buf.writeUInt32LE(o.pid, PROC_AT + PROC.VPID);
  buf.writeUInt32LE(0xffffffff, PROC_AT + PROC.LOGINUID);
  buf.writeBigUInt64LE(0x1fffffffffn, PROC_AT + PROC.CAP_EFFECTIVE);
  buf.write(o.comm.slice(0, 15), PROC_AT + PROC.COMM);
  (o.ancestors ?? [1]).forEach((a, i) => {
    buf.writeUInt32LE(a, PROC_AT + PROC.ANC_PID + 4 * i);
    buf.write(a === 1 ? 'init' : `p${a}`, PROC_AT + PROC.ANC_COMM + 16 * i);
  });
  (o.args ?? []).forEach((a, i) => buf.writeBigInt64LE(BigInt(a), ARGS_AT + 8 * i));
  buf.writeUInt16LE(0, SOCK_AT);
  buf.writeUInt16LE(0, NAMED_AT);
  buf.writeUInt32LE(blobs.length, NBLOBS_AT);
  let p = BLOBS_AT;
  for (const b of blobs) {
    buf.writeUInt16LE(b.bytes.length, p);
    buf.writeUInt16LE(b.flags, p + 2);
    b.bytes.copy(buf, p + 4);
    p += 4 + b.bytes.length;
  }
  return buf;
}

const OPENAT = syscallByName('openat')!.nr;
const AT_FDCWD = -100;

function assembler(): RecordAssembler {
  // a process table whose /proc is empty: only what the records say
  return new RecordAssembler(0n, new ProcessTable(1024, '/nonexistent-proc'));
}

function feedAll(a: RecordAssembler, chunks: Buffer[]): SensorEvent[] {
  const out: SensorEvent[] = [];
  for (const c of chunks) a.feed(c, out, () => undefined);
  return out;
}

describe('RecordAssembler', () => {
  const open = (path: string, pid = 42): Buffer =>
    syscallRecord({
      nr: OPENAT,
      pid,
      res: 3,
      comm: 'cat',
      args: [AT_FDCWD, 0, 0o2000000, 0],
      blobs: [{ text: path }, { text: '' }, { text: '' }],
    });

  it('decodes an open: the path as passed and resolved, flags as Falco prints them, the caller and its ancestor', () => {
    const [e] = feedAll(assembler(), [open('/etc/shadow')]);
    expect(e).toMatchObject({
      type: 'openat',
      pid: 42,
      res: 3,
      name: 'cat',
      fd: { num: 3, type: 'file', name: '/etc/shadow', nameRaw: '/etc/shadow' },
      params: { name: '/etc/shadow', flags: 'O_RDONLY|O_CLOEXEC', dirfd: '-100(AT_FDCWD)' },
      ancestors: [{ pid: 1, name: 'init' }],
      loginuid: -1,
      capEffective: 0x1fffffffffn,
    });
  });

  it('a stream split at every byte gives the same events; bytes a process controls (newlines, tabs, NUL-like) stay data', () => {
    const crafted = '/tmp/x\ncomm=FORGED pid=4242\tQ\t\x01\x7f';
    const stream = Buffer.concat([open('/etc/a'), open(crafted, 43), open('/etc/b', 44)]);
    const whole = feedAll(assembler(), [stream]);
    expect(whole.map((e) => e.fd?.nameRaw)).toEqual(['/etc/a', crafted, '/etc/b']);
    for (let cut = 1; cut < stream.length; cut += 7) {
      const a = assembler();
      const got = feedAll(a, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got.map((e) => e.fd?.nameRaw)).toEqual(['/etc/a', crafted, '/etc/b']);
      expect(a.stats.malformed).toBe(0);
    }
    // one byte at a time
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(feedAll(assembler(), bytes).map((e) => e.pid)).toEqual([42, 43, 44]);
  });

  it('a record whose blobs overrun it, an unknown syscall or type is counted and skipped; the next record decodes', () => {
    const bad = open('/etc/a');
    bad.writeUInt16LE(60_000, BLOBS_AT); // first blob claims more than the record holds
    const unknown = open('/etc/b');
    unknown.writeUInt16LE(509, HDR.NR);
    const odd = open('/etc/c');
    odd.writeUInt16LE(77, HDR.TYPE);
    const a = assembler();
    const got = feedAll(a, [Buffer.concat([bad, unknown, odd, open('/etc/ok')])]);
    expect(got.map((e) => e.fd?.name)).toEqual(['/etc/ok']);
    expect(a.stats.malformed).toBe(3);
    expect(a.problems.join('\n')).toMatch(/blob longer than its record/);
  });

  it('a size that breaks the framing stops decoding and says so (the capture restarts the loader)', () => {
    const broken = open('/etc/a');
    broken.writeUInt32LE(3, HDR.SIZE);
    const a = assembler();
    const got = feedAll(a, [Buffer.concat([open('/etc/first'), broken, open('/etc/lost')])]);
    expect(got.map((e) => e.fd?.name)).toEqual(['/etc/first']);
    expect(a.framingBroken).toBe(true);
  });

  it('parent links that loop (pid reuse, or a forger) end the ancestor chain: no hang, each pid once, at most 16', () => {
    const a = assembler();
    const rec = (pid: number, ppid: number, ancestors: number[]): Buffer =>
      syscallRecord({
        nr: OPENAT,
        pid,
        comm: `p${pid}`,
        ppid,
        ancestors,
        args: [AT_FDCWD],
        blobs: [{ text: '/x' }, { text: '' }, { text: '' }],
      });
    // 35's parent is 30, whose ancestors are 31..35: a loop through the process table
    const got = feedAll(a, [rec(35, 30, [30, 31, 32, 33, 34]), rec(30, 31, [31, 32, 33, 34, 35])]);
    const anc = got[1].ancestors!.map((x) => x.pid);
    expect(anc.slice(0, 5)).toEqual([31, 32, 33, 34, 35]);
    expect(new Set(anc).size).toBe(anc.length);
    expect(anc.length).toBeLessThanOrEqual(16);
    // and a chain longer than 16 is cut at 16
    const long = assembler();
    const chain: Buffer[] = [];
    // the oldest first, as a process tree grows: each parent is known before its child's events
    for (let p = 140; p >= 100; p--) chain.push(rec(p, p + 1, [p + 1, p + 2, p + 3, p + 4, p + 5]));
    const events = feedAll(long, chain);
    expect(events[events.length - 1].ancestors!.map((x) => x.pid)).toEqual(
      Array.from({ length: 16 }, (_, i) => 101 + i),
    );
  });

  it('exec entry records without exits (threads that died mid-exec) stay bounded', () => {
    const a = assembler();
    const entries: Buffer[] = [];
    for (let tid = 1; tid <= 10_000; tid++) {
      const path = Buffer.from(`/bin/x${tid}`);
      const b = Buffer.alloc(HDR.BYTES + 4 + path.length);
      b.writeUInt32LE(b.length, HDR.SIZE);
      b.writeUInt16LE(REC.EXEC_ENTER, HDR.TYPE);
      b.writeUInt32LE(tid, HDR.TID);
      b.writeUInt32LE(tid, HDR.PID);
      b.writeUInt16LE(path.length, HDR.BYTES);
      path.copy(b, HDR.BYTES + 4);
      entries.push(b);
    }
    feedAll(a, [Buffer.concat(entries)]);
    expect(a.pendingExecs).toBeLessThanOrEqual(4096);
    expect(a.stats.malformed).toBe(0);
  });

  it('truncation at the bounds is flagged; per-CPU loss reports become deltas', () => {
    const rec = syscallRecord({
      nr: OPENAT,
      pid: 7,
      comm: 'x',
      args: [AT_FDCWD],
      blobs: [{ text: '/a', flags: 1 }, { text: '' }, { text: '' }],
    });
    const lost = (counts: bigint[]): Buffer => {
      const b = Buffer.alloc(HDR.BYTES + 8 * counts.length);
      b.writeUInt32LE(b.length, HDR.SIZE);
      b.writeUInt16LE(REC.LOST, HDR.TYPE);
      counts.forEach((c, i) => b.writeBigUInt64LE(c, HDR.BYTES + 8 * i));
      return b;
    };
    const a = assembler();
    const drops: number[] = [];
    const out: SensorEvent[] = [];
    a.feed(Buffer.concat([rec, lost([2n, 5n]), lost([3n, 5n])]), out, (n) => drops.push(n));
    expect(out[0].truncated).toBe(4);
    expect(drops).toEqual([7, 1]);
    expect(a.stats.kernelLostPerCpu).toEqual([3, 5]);
  });
});

describe('containerIdFromCgroup: every runtime format, as full paths and as the leaf names the kernel gives', () => {
  const id = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
  it.each([
    [`/kubepods/besteffort/pod1234/${id}`, 'cgroupfs (containerd, CRI-O)'],
    [`/kubepods.slice/kubepods-pod1.slice/cri-containerd-${id}.scope`, 'containerd, systemd'],
    [`/kubepods.slice/kubepods-pod1.slice/crio-${id}.scope`, 'CRI-O, systemd'],
    [`/system.slice/docker-${id}.scope`, 'Docker, systemd'],
    [`/docker/${id}`, 'Docker, cgroupfs'],
    [`/machine.slice/libpod-${id}.scope`, 'podman'],
    [`cri-containerd-${id}.scope/`, 'leaf names (unified, cpu)'],
    [`/${id}`, 'leaf name of the cpu controller'],
  ])('%s (%s)', (path) => {
    expect(containerIdFromCgroup(path)).toBe(id.slice(0, 12));
  });
  it.each([
    [`/machine.slice/libpod-conmon-${id}.scope`],
    [`/kubepods.slice/crio-conmon-${id}.scope`],
    ['/user.slice/user-0.slice/session-1.scope'],
    ['/'],
  ])('%s is the host', (path) => {
    expect(containerIdFromCgroup(path)).toBe('host');
  });
});
