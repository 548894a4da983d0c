import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SensorAncestor, SensorEvent, SensorFd } from './batch-encoder.js';
import { ipv4Text, ipv6Text } from './ip-text.js';
import { ProcessTable, type KernelFacts, type ProcInfo } from './process-table.js';
import { MAX_ANCESTOR_LEVEL } from '../event/index.js';
import {
  ANCESTORS,
  ARGS_AT,
  BLOB,
  BLOB_TRUNCATED,
  BLOBS_AT,
  COMM_BYTES,
  HDR,
  MAX_RECORD_BYTES,
  NAMED_AT,
  NBLOBS_AT,
  PROC,
  PROC_AT,
  REC,
  SOCK_AT,
} from './record-layout.js';
import { ARG_MAPPERS, RESOLVED_ARGS } from './syscall-params.js';
import { octalMode, openFlags } from './syscall-args.js';
import { SYSCALLS, syscallByName, type SyscallSpec } from './syscall-table.js';

/** Counters of the assembler. */
export interface RecordStats {
  records: number;
  events: number;
  /** Records that could not be understood (skipped, counted as lost). */
  malformed: number;
  /** Records the kernel could not queue, per CPU (the loader's PG_LOST reports). */
  kernelLostPerCpu: number[];
}

/** uid → name from /etc/passwd-style files (best effort). */
function names(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2) m.set(Number(f[2]), f[0]);
    }
  } catch {
    /* none */
  }
  return m;
}

const AT_FDCWD = -100;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const TRUNC_ARGS = 1;
const TRUNC_ENV = 2;
const TRUNC_PATH = 4;

const OPENS = new Set(['open', 'openat', 'openat2', 'creat']);

/** Words of pg_proc from cap_effective to start_ns: the facts {@link KernelFacts} caches. */
const FACT_WORDS = (PROC.COMM - PROC.CAP_EFFECTIVE) / 4;
/** Words of pg_proc from anc_pid to the end: the ancestors' pids and names. */
const ANC_WORDS = (PROC.BYTES - PROC.ANC_PID) / 4;

/** Per syscall, its reported arguments: name, register position, and string blob (-1: a number). */
interface ArgPlan {
  readonly spec: SyscallSpec;
  /** Opens: where dirfd, flags and mode are (-1: not an argument of this call). */
  readonly open?: { readonly dirfd: number; readonly flags: number; readonly mode: number };
  readonly names: readonly string[];
  readonly pos: readonly number[];
  readonly str: readonly number[];
}
const PLANS = new Map<number, ArgPlan>(
  SYSCALLS.map((spec) => {
    const names: string[] = [];
    const pos: number[] = [];
    const str: number[] = [];
    spec.args.forEach((n, i) => {
      if (!n) return;
      names.push(n);
      pos.push(i);
      str.push(spec.strings.indexOf(i));
    });
    const open = OPENS.has(spec.name)
      ? { dirfd: spec.args.indexOf('dirfd'), flags: spec.args.indexOf('flags'), mode: spec.args.indexOf('mode') }
      : undefined;
    return [spec.nr, { spec, names, pos, str, open }];
  }),
);
const NR_CHDIR = syscallByName('chdir')!.nr;
const NR_FCHDIR = syscallByName('fchdir')!.nr;

/** Buffer text without toString's argument checks (bounds are checked by the caller). */
const utf8 = (b: Buffer, start: number, end: number): string =>
  (b as unknown as { utf8Slice(s: number, e: number): string }).utf8Slice(start, end);

/** A process name (comm) as last decoded for a pid: its raw bytes (4 words) and text. */
interface CommEntry {
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  text: string;
}

/**
 * Turns the loader's binary records (sensor/record.h) into sensor events. Every length comes
 * from the kernel program; a record whose structure does not add up is counted and skipped,
 * never guessed at. Arguments are rendered as Falco prints them, paths made absolute (against
 * the cwd or the dirfd, as Falco does), sockets described, and per-process metadata (exe path,
 * arguments, cwd, container) kept in a bounded process table fed by exec records.
 */
export class RecordAssembler {
  readonly stats: RecordStats = { records: 0, events: 0, malformed: 0, kernelLostPerCpu: [] };
  /** The last few problems (for logs). */
  readonly problems: string[] = [];
  /** Bytes of a record split across chunks. */
  private tail: Buffer | undefined;
  /** Exec paths from entry records, by tid, until the exec's exit (bounded). */
  private readonly execPaths = new Map<number, { path: string; truncated: boolean; pid: number }>();
  private readonly comms = new Map<number, CommEntry>();
  private readonly users = names('/etc/passwd');
  private readonly groups = names('/etc/group');
  private readonly lostSeen: bigint[] = [];
  /** The buffer being decoded and a DataView over it (set per chunk). */
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private dvOf: Buffer | undefined;
  /** Exec entries waiting for their exit (bounded). */
  get pendingExecs(): number {
    return this.execPaths.size;
  }

  /** Set once the loader says its probes are attached. */
  ready = false;
  /** Set when the stream's framing broke: the caller restarts the loader. */
  framingBroken = false;

  constructor(
    /** Nanoseconds to add to CLOCK_MONOTONIC to get wall-clock time. */
    private readonly clockOffsetNs: bigint,
    readonly procs: ProcessTable = new ProcessTable(),
  ) {}

  /**
   * Feeds a chunk of the loader's output. Complete records become events in `out`; a record
   * split across chunks waits for the rest. `onLost` hears of records the kernel dropped;
   * records that cannot be decoded are counted in `stats.malformed`.
   */
  feed(chunk: Buffer, out: SensorEvent[], onLost: (n: number) => void): void {
    let o = 0;
    while (this.tail) {
      const t = this.tail;
      if (t.length < 4) {
        const k = Math.min(4 - t.length, chunk.length - o);
        this.tail = Buffer.concat([t, chunk.subarray(o, o + k)]);
        o += k;
        if (this.tail.length < 4) return;
        continue;
      }
      const size = t.readUInt32LE(0);
      if (size < HDR.BYTES || size > MAX_RECORD_BYTES) {
        this.framingLost(size);
        return;
      }
      const k = Math.min(size - t.length, chunk.length - o);
      const joined = Buffer.concat([t, chunk.subarray(o, o + k)]);
      o += k;
      if (joined.length < size) {
        this.tail = joined;
        return;
      }
      this.tail = undefined;
      this.record(joined, 0, out, onLost);
    }
    this.records(chunk, o, out, onLost);
  }

  /** The stream lost its framing: nothing after this point can be trusted (the capture restarts). */
  private framingLost(size: number): void {
    this.problem(`record of ${size} bytes at a record boundary: the stream lost its framing`);
    this.stats.malformed++;
    this.framingBroken = true;
    this.tail = undefined;
  }

  private records(buf: Buffer, start: number, out: SensorEvent[], onLost: (n: number) => void): void {
    let o = start;
    const len = buf.length;
    while (o + 4 <= len) {
      const size = buf.readUInt32LE(o);
      if (size < HDR.BYTES || size > MAX_RECORD_BYTES) return this.framingLost(size);
      if (o + size > len) break;
      this.record(buf, o, out, onLost);
      o += size;
    }
    this.tail = o < len ? Buffer.from(buf.subarray(o)) : undefined;
  }

  private problem(what: string): void {
    this.problems.push(what.slice(0, 300));
    if (this.problems.length > 5) this.problems.shift();
  }

  private record(buf: Buffer, o: number, out: SensorEvent[], onLost: (n: number) => void): void {
    this.stats.records++;
    if (this.dvOf !== buf) {
      this.dvOf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    try {
      switch (buf.readUInt16LE(o + HDR.TYPE)) {
        case REC.SYSCALL: {
          const ev = this.syscall(buf, o);
          if (ev) {
            this.stats.events++;
            out.push(ev);
          }
          return;
        }
        case REC.EXEC_ENTER:
          return this.execEnter(buf, o);
        case REC.PROC_EXIT:
          this.stats.events++;
          out.push(this.procExit(buf, o));
          return;
        case REC.LOST:
          return this.lost(buf, o, onLost);
        case REC.READY:
          this.ready = true;
          return;
        default:
          throw new Error(`unknown record type ${buf.readUInt16LE(o + HDR.TYPE)}`);
      }
    } catch (err) {
      this.stats.malformed++;
      this.problem(err instanceof Error ? err.message : String(err));
    }
  }

  private lost(buf: Buffer, o: number, onLost: (n: number) => void): void {
    const size = buf.readUInt32LE(o);
    let total = 0;
    for (let i = 0, p = o + HDR.BYTES; p + 8 <= o + size; i++, p += 8) {
      const v = buf.readBigUInt64LE(p);
      const d = v - (this.lostSeen[i] ?? 0n);
      this.lostSeen[i] = v;
      if (d > 0n) {
        total += Number(d);
        this.stats.kernelLostPerCpu[i] = (this.stats.kernelLostPerCpu[i] ?? 0) + Number(d);
      } else this.stats.kernelLostPerCpu[i] ??= 0;
    }
    if (total) onLost(total);
  }

  /** A blob at `p` within the record ending at `end`: [text start, length, flags]. */
  private blobAt(buf: Buffer, p: number, end: number): [number, number, number] {
    if (p + 4 > end) throw new Error('record shorter than its blobs');
    const n = buf.readUInt16LE(p);
    if (p + 4 + n > end) throw new Error('blob longer than its record');
    return [p + 4, n, buf.readUInt16LE(p + 2)];
  }

  private execEnter(buf: Buffer, o: number): void {
    const end = o + buf.readUInt32LE(o);
    const [s, n, flags] = this.blobAt(buf, o + HDR.BYTES, end);
    const tid = buf.readUInt32LE(o + HDR.TID);
    if (this.execPaths.size >= 4096 && !this.execPaths.has(tid))
      this.execPaths.delete(this.execPaths.keys().next().value as number);
    this.execPaths.set(tid, {
      path: buf.toString('utf8', s, s + n),
      truncated: (flags & BLOB_TRUNCATED) !== 0,
      pid: buf.readUInt32LE(o + HDR.PID),
    });
  }

  /** The comm at `off` for `pid`, decoded once per (pid, name). */
  private comm(buf: Buffer, off: number, pid: number): string {
    const dv = this.dv;
    const w0 = dv.getUint32(off, true);
    const w1 = dv.getUint32(off + 4, true);
    const w2 = dv.getUint32(off + 8, true);
    const w3 = dv.getUint32(off + 12, true);
    const c = this.comms.get(pid);
    if (c && c.w0 === w0 && c.w1 === w1 && c.w2 === w2 && c.w3 === w3) return c.text;
    let e = buf.indexOf(0, off);
    if (e < 0 || e > off + COMM_BYTES) e = off + COMM_BYTES;
    const text = utf8(buf, off, e);
    if (!c && this.comms.size >= 65_536) this.comms.delete(this.comms.keys().next().value as number);
    this.comms.set(pid, { w0, w1, w2, w3, text });
    return text;
  }

  private procExit(buf: Buffer, o: number): SensorEvent {
    const pid = buf.readUInt32LE(o + HDR.PID);
    // a process exiting unseen (its exec predates the sensor) is gone from /proc already: no read
    const info = this.procs.peek(pid);
    const ev: SensorEvent = {
      tsNs: this.clockOffsetNs + buf.readBigUInt64LE(o + HDR.TS),
      type: 'procexit',
      res: 0,
      tid: buf.readUInt32LE(o + HDR.TID),
      pid,
      name: this.comm(buf, o + HDR.BYTES, pid),
      exepath: info?.exepath,
      exe: info?.exe,
      args: info?.args,
      cwd: info?.cwd,
      containerId: info?.containerId,
      procStartNs: info?.kernel?.startNs ?? info?.startNs,
      params: { status: String(Number(buf.readBigInt64LE(o + HDR.RES))) },
    };
    this.procs.exit(pid);
    this.comms.delete(pid);
    return ev;
  }

  private syscall(buf: Buffer, o: number): SensorEvent | undefined {
    const dv = this.dv;
    const size = dv.getUint32(o, true);
    const end = o + size;
    if (size < BLOBS_AT) throw new Error(`syscall record of ${size} bytes`);
    const nr = dv.getUint16(o + HDR.NR, true);
    const plan = PLANS.get(nr);
    if (!plan) throw new Error(`syscall record for unknown syscall ${nr}`);
    const spec = plan.spec;
    const tid = dv.getUint32(o + HDR.TID, true);
    const pid = dv.getUint32(o + HDR.PID, true);
    // results fit 32 bits for every captured call; the high word is sign
    const res = dv.getInt32(o + HDR.RES, true);
    const p = o + PROC_AT;
    const ppid = dv.getUint32(p + PROC.PPID, true);
    const comm = this.comm(buf, p + PROC.COMM, pid);

    // blobs: the string arguments, then (successful execs) argv, environment, cgroup, exe name
    const nblobs = dv.getUint32(o + NBLOBS_AT, true);
    if (nblobs > 7) throw new Error(`syscall record with ${nblobs} blobs`);
    const strs = ['', '', ''];
    let truncated = 0;
    let q = o + BLOBS_AT;
    let argv: string[] | undefined;
    let env: string | undefined;
    let cgroup: string | undefined;
    let exeName: string | undefined;
    for (let i = 0; i < nblobs; i++) {
      if (q + 4 > end) throw new Error('record shorter than its blobs');
      const n = dv.getUint16(q, true);
      const flags = dv.getUint16(q + 2, true);
      const st = q + 4;
      q = st + n;
      if (q > end) throw new Error('blob longer than its record');
      if (n === 0 && flags === 0) continue;
      const trunc = (flags & BLOB_TRUNCATED) !== 0;
      if (i <= BLOB.STR3) {
        strs[i] = utf8(buf, st, q);
        if (trunc) truncated |= TRUNC_PATH;
      } else if (i === BLOB.ARGV) {
        argv = utf8(buf, st, q).split('\0');
        if (argv[argv.length - 1] === '') argv.pop();
        if (trunc) truncated |= TRUNC_ARGS;
      } else if (i === BLOB.ENV) {
        const e = utf8(buf, st, q).split('\0');
        if (e[e.length - 1] === '') e.pop();
        env = e.join(' ');
        if (trunc) truncated |= TRUNC_ENV;
      } else if (i === BLOB.CGROUP) cgroup = utf8(buf, st, q).split('\0').join('/');
      else if (i === BLOB.EXE) exeName = utf8(buf, st, q);
    }

    if (plan.open) return this.openEvent(plan, buf, o, strs[0], truncated, comm);

    // raw arguments by name: strings from blobs, numbers from the registers
    const raw: Record<string, string> = {};
    const isExec = spec.exec === true;
    let entry: { path: string; truncated: boolean; pid: number } | undefined;
    if (isExec) {
      let key: number | undefined = tid;
      entry = this.execPaths.get(tid);
      if (!entry && res === 0) {
        // an exec by another thread of the process returns in the leader: its entry has that thread's tid
        key = undefined;
        for (const [t, x] of this.execPaths) if (x.pid === pid) [key, entry] = [t, x];
      }
      if (key !== undefined) this.execPaths.delete(key);
      if (entry?.truncated) truncated |= TRUNC_PATH;
    }
    for (let i = 0; i < plan.names.length; i++) {
      const name = plan.names[i];
      const si = plan.str[i];
      if (si < 0) raw[name] = String(dv.getInt32(o + ARGS_AT + 8 * plan.pos[i], true));
      else raw[name] = isExec ? (entry?.path ?? '') : strs[si];
    }

    let info = this.procs.get(pid, ppid); // known (or inherited) before paths are resolved
    if (isExec && res === 0) {
      info = this.procs.exec(pid, this.resolvePath(pid, raw.path ?? '', raw.dirfd), cgroup, argv, exeName, ppid);
      info.truncated = truncated & (TRUNC_ARGS | TRUNC_ENV);
      if (env !== undefined) info.env = env;
    }
    info.comm = comm; // children name this process by it
    if (ppid) info.ppid = ppid;
    if ((nr === NR_CHDIR || nr === NR_FCHDIR) && res === 0) {
      const to = nr === NR_CHDIR ? this.resolvePath(pid, raw.path ?? '') : this.procs.fdPath(pid, Number(raw.fd));
      if (to) this.procs.chdir(pid, to);
    }
    const { params, fd } = this.params(spec, pid, res, raw, buf, o);
    return this.event(spec, buf, o, info, comm, params, fd, truncated);
  }

  /** The open family, the hottest events, without the generic argument table. */
  private openEvent(plan: ArgPlan, buf: Buffer, o: number, path: string, truncated: number, comm: string): SensorEvent {
    const dv = this.dv;
    const a = o + ARGS_AT;
    const at = plan.open!;
    const pid = dv.getUint32(o + HDR.PID, true);
    const res = dv.getInt32(o + HDR.RES, true);
    const ppid = dv.getUint32(o + PROC_AT + PROC.PPID, true);
    const info = this.procs.get(pid, ppid);
    info.comm = comm;
    if (ppid) info.ppid = ppid;
    const dirfd = at.dirfd >= 0 ? dv.getInt32(a + 8 * at.dirfd, true) : AT_FDCWD;
    const name = this.resolvePath(pid, path, dirfd);
    const params: Record<string, string> = { name };
    if (at.flags >= 0) params.flags = openFlags(dv.getInt32(a + 8 * at.flags, true));
    else if (plan.spec.name === 'creat') params.flags = 'O_WRONLY|O_CREAT|O_TRUNC';
    if (at.mode >= 0) params.mode = octalMode(dv.getInt32(a + 8 * at.mode, true));
    if (at.dirfd >= 0) params.dirfd = dirfd === AT_FDCWD ? '-100(AT_FDCWD)' : String(dirfd);
    const fd: SensorFd = { num: res >= 0 ? res : -1, type: 'file', name, nameRaw: path };
    return this.event(plan.spec, buf, o, info, comm, params, fd, truncated);
  }

  /** The event: the caller as the kernel reported it, the process table's view, and the call's arguments. */
  private event(
    spec: SyscallSpec,
    buf: Buffer,
    o: number,
    info: ProcInfo,
    comm: string,
    params: Record<string, string>,
    fd: SensorFd | undefined,
    truncated: number,
  ): SensorEvent {
    const dv = this.dv;
    const p = o + PROC_AT;
    const pid = dv.getUint32(o + HDR.PID, true);
    const ppid = dv.getUint32(p + PROC.PPID, true);
    const facts = this.facts(info, p);
    const ancestors = this.ancestors(buf, p, info);

    const uid = dv.getUint32(p + PROC.UID, true);
    const gid = dv.getUint32(p + PROC.GID, true);
    const loginuid = dv.getUint32(p + PROC.LOGINUID, true);
    const sid = dv.getUint32(p + PROC.SID, true);
    let exeFlags = dv.getUint32(p + PROC.EXE_FLAGS, true);
    if (info.memfd) exeFlags |= 2;
    return {
      tsNs: this.clockOffsetNs + dv.getBigUint64(o + HDR.TS, true),
      type: spec.name,
      res: dv.getInt32(o + HDR.RES, true),
      tid: dv.getUint32(o + HDR.TID, true),
      pid,
      ppid: ppid || undefined,
      vpid: dv.getUint32(p + PROC.VPID, true),
      vtid: dv.getUint32(p + PROC.VTID, true),
      vpgid: dv.getUint32(p + PROC.VPGID, true),
      sid,
      sname: this.sessionName(info, pid, sid, comm),
      name: comm,
      exe: info.exe,
      exepath: info.exepath,
      args: info.args,
      cwd: info.cwd,
      env: info.env,
      tty: dv.getUint32(p + PROC.TTY, true),
      uid,
      gid,
      loginuid: loginuid === 0xffffffff ? -1 : loginuid,
      loginname: loginuid === 0xffffffff ? undefined : this.users.get(loginuid),
      user: this.users.get(uid),
      group: this.groups.get(gid),
      capEffective: facts.capEffective,
      capPermitted: facts.capPermitted,
      capInheritable: facts.capInheritable,
      exeIno: facts.exeIno,
      exeCtimeNs: facts.exeCtimeNs,
      exeMtimeNs: facts.exeMtimeNs,
      exeFlags,
      ancestors,
      fd,
      params,
      containerId: info.containerId,
      procStartNs: facts.startNs,
      truncated: truncated | (info.truncated ?? 0) || undefined,
    };
  }

  /** Capabilities, executable inode and times, start time: decoded again only when their bytes change. */
  private facts(info: ProcInfo, p: number): KernelFacts {
    const dv = this.dv;
    let f = info.kernel;
    if (f) {
      const w = f.words;
      let same = true;
      for (let i = 0; i < FACT_WORDS; i++)
        if (w[i] !== dv.getUint32(p + PROC.CAP_EFFECTIVE + 4 * i, true)) {
          same = false;
          break;
        }
      if (same) return f;
    }
    const words = new Uint32Array(FACT_WORDS);
    for (let i = 0; i < FACT_WORDS; i++) words[i] = dv.getUint32(p + PROC.CAP_EFFECTIVE + 4 * i, true);
    const ino = Number(dv.getBigUint64(p + PROC.EXE_INO, true));
    const ctime = dv.getBigUint64(p + PROC.EXE_CTIME, true);
    const mtime = dv.getBigUint64(p + PROC.EXE_MTIME, true);
    f = {
      words,
      capEffective: dv.getBigUint64(p + PROC.CAP_EFFECTIVE, true),
      capPermitted: dv.getBigUint64(p + PROC.CAP_PERMITTED, true),
      capInheritable: dv.getBigUint64(p + PROC.CAP_INHERITABLE, true),
      exeIno: ino || undefined,
      exeCtimeNs: ctime || undefined,
      exeMtimeNs: mtime || undefined,
      startNs: this.clockOffsetNs + dv.getBigUint64(p + PROC.START_NS, true),
    };
    info.kernel = f;
    return f;
  }

  /**
   * The ancestors as read in the kernel, with what the process table knows of each. Reused as a
   * whole while the kernel reports the same pids and names and no process was replaced since.
   */
  private ancestors(buf: Buffer, p: number, info: ProcInfo): readonly SensorAncestor[] {
    const dv = this.dv;
    const base = p + PROC.ANC_PID;
    const cached = info.ancestorWords;
    if (cached && info.ancestorGeneration === this.procs.generation) {
      let same = true;
      for (let i = 0; i < ANC_WORDS; i++)
        if (cached[i] !== dv.getUint32(base + 4 * i, true)) {
          same = false;
          break;
        }
      if (same) return info.ancestors!;
    }
    const views: SensorAncestor[] = [];
    for (let i = 0; i < ANCESTORS; i++) {
      const apid = dv.getUint32(base + 4 * i, true);
      if (apid === 0) break;
      const name = this.comm(buf, p + PROC.ANC_COMM + COMM_BYTES * i, apid);
      const ai = this.procs.get(apid);
      ai.comm = name;
      let view = ai.view;
      if (!view || view.name !== name || view.exepath !== ai.exepath) {
        view = { name, pid: apid, exe: ai.exe, exepath: ai.exepath, cmdline: ai.args ? `${name} ${ai.args}` : name };
        ai.view = view;
      }
      views.push(view);
    }
    // beyond the kernel's five: the process table's parent links, as far as rules look (16)
    let up = views.length === ANCESTORS ? this.procs.get(views[ANCESTORS - 1].pid!).ppid : undefined;
    const seen = new Set(views.map((v) => v.pid));
    while (up && up > 0 && views.length < MAX_ANCESTOR_LEVEL && !seen.has(up)) {
      seen.add(up);
      const ai = this.procs.get(up);
      const name = ai.comm ?? ai.exepath.slice(ai.exepath.lastIndexOf('/') + 1);
      let view = ai.view;
      if (!view || view.name !== name || view.exepath !== ai.exepath) {
        view = { name, pid: up, exe: ai.exe, exepath: ai.exepath, cmdline: ai.args ? `${name} ${ai.args}` : name };
        ai.view = view;
      }
      views.push(view);
      up = ai.ppid;
    }
    const words = cached ?? new Uint32Array(ANC_WORDS);
    for (let i = 0; i < ANC_WORDS; i++) words[i] = dv.getUint32(base + 4 * i, true);
    info.ancestorWords = words;
    info.ancestorGeneration = this.procs.generation;
    info.ancestors = views;
    return views;
  }

  /** The session leader's name, looked up once per (process, session). */
  private sessionName(info: ProcInfo, pid: number, sid: number, comm: string): string | undefined {
    if (!sid) return undefined;
    if (sid === pid) return comm;
    const known = info.sname;
    if (known && known.sid === sid) return known.name;
    const name = this.procs.get(sid).comm;
    info.sname = { sid, name };
    return name;
  }

  /** Absolute path of `path` for `pid`, relative to its cwd or to `dirfd` (-100 = AT_FDCWD). */
  private resolvePath(pid: number, path: string, dirfd?: string | number): string {
    if (!path || path.charCodeAt(0) === 47 /* / */) return path;
    const dfd = dirfd === undefined ? AT_FDCWD : Number(dirfd);
    const base =
      dfd === -100 || !Number.isFinite(dfd)
        ? this.procs.cwd(pid)
        : (this.procs.fdPath(pid, dfd) ?? this.procs.cwd(pid));
    return base ? resolve(base, path) : path;
  }

  /** Falco's `evt.arg.*` for one call, and the descriptor it acts on (a file, or a socket). */
  private params(
    spec: SyscallSpec,
    pid: number,
    ret: number,
    raw: Record<string, string>,
    buf: Buffer,
    o: number,
  ): { params: Record<string, string>; fd?: SensorFd } {
    const sc = spec.name;
    const params: Record<string, string> = {};
    const path = (k = 'path', dir = 'dirfd'): string => this.resolvePath(pid, raw[k] ?? '', raw[dir]);
    // (opens never come here: openEvent)
    ARG_MAPPERS[sc]?.({ sc, raw, params, path });
    for (const k in raw) if (params[k] === undefined && !RESOLVED_ARGS.has(k)) params[k] = raw[k];
    let fd: SensorFd | undefined;
    const family = buf.readUInt16LE(o + SOCK_AT);
    if (family === AF_INET || family === AF_INET6) fd = this.socketFd(sc, ret, raw, buf, o, params);
    else if (family === AF_UNIX) fd = { num: Number(raw.fd ?? raw.oldfd ?? ret), type: 'unix' };
    if (buf.readUInt16LE(o + NAMED_AT) !== 0) fd = this.namedFd(sc, raw, buf, o, fd, params);
    return { params, fd };
  }

  /** The event's socket: both ends as the kernel has them. */
  private socketFd(
    sc: string,
    ret: number,
    raw: Readonly<Record<string, string>>,
    buf: Buffer,
    o: number,
    params: Record<string, string>,
  ): SensorFd {
    const s = o + SOCK_AT;
    const v6 = buf.readUInt16LE(s) === AF_INET6;
    const text = v6 ? ipv6Text : ipv4Text;
    const local: End = [text(buf, s + 8), buf.readUInt16LE(s + 4)];
    const rport = buf.readUInt16LE(s + 6);
    const remote: End = [text(buf, s + 24), rport];
    const server = sc === 'accept' || sc === 'accept4' || sc === 'listen' || sc === 'bind';
    const fd = ipFd(
      sc === 'accept' || sc === 'accept4' ? ret : Number(raw.fd ?? raw.oldfd ?? -1),
      v6,
      server ? remote : local,
      server ? local : remote,
      {
        l4proto: l4Name(buf.readUInt16LE(s + 2)),
        isServer: server,
        // the kernel's socket has a peer (listening and unconnected sockets have port 0 there)
        connected: rport !== 0,
        nameChanged: sc === 'connect' || sc === 'accept' || sc === 'accept4',
      },
    );
    if (sc === 'connect') params.tuple = fd.name!;
    return fd;
  }

  /** sendto/sendmsg/recvfrom/recvmsg naming an address: sends name the server, receives the peer. */
  private namedFd(
    sc: string,
    raw: Readonly<Record<string, string>>,
    buf: Buffer,
    o: number,
    sock: SensorFd | undefined,
    params: Record<string, string>,
  ): SensorFd {
    const n = o + NAMED_AT;
    const v6 = buf.readUInt16LE(n) === AF_INET6;
    const named: End = [v6 ? ipv6Text(buf, n + 4) : ipv4Text(buf, n + 4), buf.readUInt16LE(n + 2)];
    const recv = sc.startsWith('recv');
    const own = sock && sock.type !== 'unix';
    const local: End = own
      ? sock.isServer
        ? [sock.sip!, sock.sport!]
        : [sock.cip!, sock.cport!]
      : [v6 ? '::' : '0.0.0.0', 0];
    const fd = ipFd(Number(raw.fd ?? -1), v6, recv ? named : local, recv ? local : named, {
      l4proto: own ? sock.l4proto : 'udp',
      isServer: recv,
      connected: sock?.connected ?? false,
      nameChanged: true,
    });
    params.tuple = fd.name!;
    return fd;
  }
}

/** One end of a connection: address and port. */
type End = [ip: string, port: number];

/** An IPv4/IPv6 descriptor from its client and server ends, named as Falco prints tuples (no brackets). */
function ipFd(
  num: number,
  v6: boolean,
  [cip, cport]: End,
  [sip, sport]: End,
  more: Pick<SensorFd, 'l4proto' | 'isServer' | 'connected' | 'nameChanged'>,
): SensorFd {
  return { num, type: v6 ? 'ipv6' : 'ipv4', name: `${cip}:${cport}->${sip}:${sport}`, cip, sip, cport, sport, ...more };
}

const l4Name = (proto: number): string => (proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 ? 'icmp' : 'raw');
