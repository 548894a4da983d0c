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
  buf.writeUInt32LE(1, PROC_AT + PROC.PPID);
  buf.writeUInt32LE(o.pid, PROC_AT + PROC.VPID);
  buf.writeUInt32LE(0xffffffff, PROC_AT + PROC.LOGINUID);
  buf.writeBigUInt64LE(0x1fffffffffn, PROC_AT + PROC.CAP_EFFECTIVE);
  buf.write(o.comm.slice(0, 15), PROC_AT + PROC.COMM);
  buf.writeUInt32LE(1, PROC_AT + PROC.ANC_PID);
  buf.write('init', PROC_AT + PROC.ANC_COMM);
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
