import { WireWriter } from '../transport/index.js';

/** One ancestor of the calling process, nearest first (index 0 = parent). */
export interface SensorAncestor {
  readonly name?: string;
  readonly pid?: number;
  readonly exe?: string;
  readonly exepath?: string;
  readonly cmdline?: string;
}

/** The file descriptor an event acts on. */
export interface SensorFd {
  readonly num: number;
  readonly type: string;
  readonly name?: string;
  readonly cip?: string;
  readonly sip?: string;
  readonly cport?: number;
  readonly sport?: number;
  readonly l4proto?: string;
  readonly isServer?: boolean;
  /** The path as the call passed it (unresolved). */
  readonly nameRaw?: string;
  /** A socket with a peer. */
  readonly connected?: boolean;
  /** This call set the descriptor's name (a send or receive naming an address). */
  readonly nameChanged?: boolean;
}

/** A syscall event as the sensor produces it, before encoding (see sensor.proto `Event`). */
export interface SensorEvent {
  readonly tsNs: bigint;
  readonly type: string;
  readonly res: number;
  readonly tid: number;
  readonly pid: number;
  readonly ppid?: number;
  readonly vpid?: number;
  readonly sid?: number;
  readonly vpgid?: number;
  readonly name: string;
  readonly exe?: string;
  readonly exepath?: string;
  readonly args?: string;
  readonly cwd?: string;
  readonly tty?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly loginuid?: number;
  readonly user?: string;
  readonly group?: string;
  readonly procStartNs?: bigint;
  /** 1 = upper layer, 2 = memfd, 4 = writable. */
  readonly exeFlags?: number;
  readonly ancestors?: readonly SensorAncestor[];
  readonly fd?: SensorFd;
  /** Call arguments by name (Falco's evt.arg.NAME): flags, mode, request, ... */
  readonly params?: Readonly<Record<string, string>>;
  readonly containerId?: string;
  /** Capability sets (bit N = capability N). */
  readonly capEffective?: bigint;
  readonly capPermitted?: bigint;
  readonly capInheritable?: bigint;
  readonly exeIno?: number;
  readonly exeCtimeNs?: bigint;
  readonly exeMtimeNs?: bigint;
  /** Environment at exec, entries joined by spaces (bounded). */
  readonly env?: string;
  /** Session leader's name. */
  readonly sname?: string;
  /** Audit login user's name. */
  readonly loginname?: string;
  readonly vtid?: number;
  /** What was cut at the sensor's bounds: 1 = arguments, 2 = environment, 4 = a path. */
  readonly truncated?: number;
}

/**
 * Encodes events into one `EventBatch` with a string table: every distinct string is written
 * once per batch. Stateless apart from its reusable scratch; not shared across threads.
 */
export function encodeBatch(
  streamId: number,
  firstSeq: number,
  events: readonly SensorEvent[],
  lost = 0,
  missed = 0,
): Buffer {
  const table = new Map<string, number>([['', 0]]);
  const strings: string[] = [''];
  const ix = (s: string | undefined): number => {
    if (s === undefined || s === '') return 0;
    let i = table.get(s);
    if (i === undefined) {
      i = strings.length;
      table.set(s, i);
      strings.push(s);
    }
    return i;
  };
  const encoded: Buffer[] = events.map((e) => encodeEvent(e, ix));
  const w = new WireWriter(encoded.reduce((n, b) => n + b.length + 6, 256));
  w.uint(1, streamId);
  w.uint(2, firstSeq);
  for (const s of strings) w.string(3, s);
  for (const b of encoded) w.bytes(4, b);
  w.uint(5, lost);
  w.uint(6, missed);
  return Buffer.from(w.finish());
}

function encodeEvent(e: SensorEvent, ix: (s: string | undefined) => number): Buffer {
  const w = new WireWriter(512);
  w.fixed64(1, e.tsNs);
  w.uint(2, ix(e.type));
  // Numbers are `optional` in the proto: written whenever known, so 0 (success, pid 0, root's
  // uid and gid) is never mistaken for missing.
  w.optSint(3, e.res);
  w.optUint(4, e.tid);
  w.optUint(5, e.pid);
  w.optUint(6, e.ppid);
  w.optUint(7, e.vpid);
  w.optUint(8, e.sid);
  w.optSint(9, e.vpgid);
  w.uint(10, ix(e.name));
  w.uint(11, ix(e.exe));
  w.uint(12, ix(e.exepath));
  w.uint(13, ix(e.args));
  w.uint(14, ix(e.cwd));
  w.optUint(15, e.tty);
  w.optUint(16, e.uid);
  w.optUint(17, e.gid);
  w.optSint(18, e.loginuid);
  w.uint(19, ix(e.user));
  w.uint(20, ix(e.group));
  w.fixed64(21, e.procStartNs);
  w.uint(22, e.exeFlags);
  const anc = e.ancestors ?? [];
  w.packed(
    23,
    anc.map((a) => ix(a.name)),
  );
  w.packed(
    24,
    anc.map((a) => a.pid ?? 0),
  );
  w.packed(
    25,
    anc.map((a) => ix(a.exe)),
  );
  w.packed(
    26,
    anc.map((a) => ix(a.exepath)),
  );
  w.packed(
    27,
    anc.map((a) => ix(a.cmdline)),
  );
  if (e.fd) {
    w.optSint(28, e.fd.num);
    w.uint(29, ix(e.fd.type));
    w.uint(30, ix(e.fd.name));
    w.uint(31, ix(e.fd.cip));
    w.uint(32, ix(e.fd.sip));
    w.optUint(33, e.fd.cport);
    w.optUint(34, e.fd.sport);
    w.uint(35, ix(e.fd.l4proto));
    w.bool(36, e.fd.isServer);
  }
  const names = Object.keys(e.params ?? {});
  w.packed(37, names.map(ix));
  w.packed(
    38,
    names.map((n) => ix(e.params![n])),
  );
  w.uint(39, ix(e.containerId));
  w.optFixed64(40, e.capEffective);
  w.optFixed64(41, e.capPermitted);
  w.optFixed64(42, e.capInheritable);
  w.optUint(43, e.exeIno);
  w.fixed64(44, e.exeCtimeNs);
  w.fixed64(45, e.exeMtimeNs);
  w.uint(46, ix(e.env));
  w.uint(47, ix(e.sname));
  w.uint(48, ix(e.loginname));
  w.optUint(49, e.vtid);
  w.uint(50, ix(e.fd?.nameRaw));
  w.uint(51, e.truncated);
  if (e.fd?.connected !== undefined) w.optUint(52, e.fd.connected ? 1 : 0);
  if (e.fd?.nameChanged !== undefined) w.optUint(53, e.fd.nameChanged ? 1 : 0);
  return Buffer.from(w.finish());
}
