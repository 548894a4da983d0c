import { constants } from 'node:os';
import type { FieldValue } from '../event/index.js';
import type { FieldKeyTable } from '../event/index.js';
import { FieldDeriver, capabilityText } from '../event/index.js';
import { MAX_ANCESTOR_LEVEL } from '../event/index.js';
import { SyscallEvent } from '../event/index.js';
import { WireFormatError, WireReader } from '../transport/index.js';

/** A decoded `peregrine.sensor.v1.EventBatch`. */
export interface SensorBatch {
  readonly streamId: number;
  readonly firstSeq: number;
  readonly events: SyscallEvent[];
  readonly lost: number;
  readonly missed: number;
}

/** Fields this decoder writes; S_* constants index them. */
const SLOT_KEYS = [
  'evt.type',
  'evt.time',
  'evt.num',
  'evt.dir',
  'evt.rawres',
  'evt.res',
  'evt.failed',
  'thread.tid',
  'proc.pid',
  'proc.ppid',
  'proc.vpid',
  'proc.sid',
  'proc.vpgid',
  'proc.name',
  'proc.exe',
  'proc.exepath',
  'proc.args',
  'proc.cmdline',
  'proc.cwd',
  'proc.tty',
  'user.uid',
  'group.gid',
  'user.loginuid',
  'user.name',
  'group.name',
  'proc.is_exe_upper_layer',
  'proc.is_exe_from_memfd',
  'proc.is_exe_writable',
  'fd.num',
  'fd.type',
  'fd.typechar',
  'fd.name',
  'fd.cip',
  'fd.sip',
  'fd.cport',
  'fd.sport',
  'fd.l4proto',
  'fd.is_server',
  'fd.lip',
  'fd.rip',
  'fd.lport',
  'fd.rport',
  'fd.sockfamily',
  'container.id',
  'evt.source',
  'proc.duration',
  'thread.cap_effective',
  'thread.cap_permitted',
  'thread.cap_inheritable',
  'proc.exe_ino',
  'proc.exe_ino.ctime',
  'proc.exe_ino.mtime',
  'proc.env',
  'proc.sname',
  'user.loginname',
  'thread.vtid',
  'fd.nameraw',
  'evt.truncated',
  'proc.is_vpgid_leader',
  'proc.is_sid_leader',
  'proc.exe_ino.ctime_duration_proc_start',
  'fd.connected',
  'fd.name_changed',
] as const;
const S_EVT_TYPE = 0;
const S_EVT_TIME = 1;
const S_EVT_NUM = 2;
const S_EVT_DIR = 3;
const S_EVT_RAWRES = 4;
const S_EVT_RES = 5;
const S_EVT_FAILED = 6;
const S_THREAD_TID = 7;
const S_PROC_PID = 8;
const S_PROC_PPID = 9;
const S_PROC_VPID = 10;
const S_PROC_SID = 11;
const S_PROC_VPGID = 12;
const S_PROC_NAME = 13;
const S_PROC_EXE = 14;
const S_PROC_EXEPATH = 15;
const S_PROC_ARGS = 16;
const S_PROC_CMDLINE = 17;
const S_PROC_CWD = 18;
const S_PROC_TTY = 19;
const S_USER_UID = 20;
const S_GROUP_GID = 21;
const S_USER_LOGINUID = 22;
const S_USER_NAME = 23;
const S_GROUP_NAME = 24;
const S_PROC_IS_EXE_UPPER_LAYER = 25;
const S_PROC_IS_EXE_FROM_MEMFD = 26;
const S_PROC_IS_EXE_WRITABLE = 27;
const S_FD_NUM = 28;
const S_FD_TYPE = 29;
const S_FD_TYPECHAR = 30;
const S_FD_NAME = 31;
const S_FD_CIP = 32;
const S_FD_SIP = 33;
const S_FD_CPORT = 34;
const S_FD_SPORT = 35;
const S_FD_L4PROTO = 36;
const S_FD_IS_SERVER = 37;
const S_FD_LIP = 38;
const S_FD_RIP = 39;
const S_FD_LPORT = 40;
const S_FD_RPORT = 41;
const S_FD_SOCKFAMILY = 42;
const S_CONTAINER_ID = 43;
const S_EVT_SOURCE = 44;
const S_PROC_DURATION = 45;
const S_CAP_EFFECTIVE = 46;
const S_CAP_PERMITTED = 47;
const S_CAP_INHERITABLE = 48;
const S_EXE_INO = 49;
const S_EXE_CTIME = 50;
const S_EXE_MTIME = 51;
const S_PROC_ENV = 52;
const S_PROC_SNAME = 53;
const S_USER_LOGINNAME = 54;
const S_THREAD_VTID = 55;
const S_FD_NAMERAW = 56;
const S_EVT_TRUNCATED = 57;
const S_IS_VPGID_LEADER = 58;
const S_IS_SID_LEADER = 59;
const S_EXE_CTIME_TO_START = 60;
const S_FD_CONNECTED = 61;
const S_FD_NAME_CHANGED = 62;
const TRUNCATED_NAMES = ['args', 'env', 'path'] as const;

const ANC_FIELDS = ['proc.aname', 'proc.apid', 'proc.aexe', 'proc.aexepath', 'proc.acmdline'] as const;
const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(constants.errno).map(([k, v]) => [v, k]));
const TYPE_CHAR: Readonly<Record<string, string>> = {
  file: 'f',
  directory: 'd',
  ipv4: '4',
  ipv6: '6',
  unix: 'u',
  pipe: 'p',
  event: 'e',
  signalfd: 's',
  eventpoll: 'l',
  inotify: 'i',
  timerfd: 't',
  netlink: 'n',
  memfd: 'm',
  bpf: 'b',
  userfaultfd: 'r',
  io_uring: 'o',
};

/**
 * Decodes sensor batches (see proto/peregrine/sensor/v1/sensor.proto) straight into engine
 * events. Hand-written over the wire format because this is the hottest decode in the agent:
 * the string table is decoded once per batch and events refer to it by index, and field
 * values go directly into event slots (no intermediate objects).
 */
export class SensorBatchDecoder {
  /** Slots of SLOT_KEYS, by the S_* indexes (numeric, so hot loads are array reads). */
  private readonly sl: Int32Array;
  private readonly anc: number[][] = [];
  private readonly argSlots = new Map<string, number>();
  private readonly deriver: FieldDeriver;
  // Per-event scratch, reused (decoding is synchronous): ancestors and argument indexes.
  private readonly scAnc: number[][] = [[], [], [], [], []];
  private readonly scArgNames: number[] = [];
  private readonly scArgValues: number[] = [];
  private strs: string[] = [''];

  constructor(private readonly table: FieldKeyTable) {
    this.sl = Int32Array.from(SLOT_KEYS, (k) => table.intern(k));
    for (let f = 0; f < ANC_FIELDS.length; f++) this.anc.push([]);
    this.deriver = new FieldDeriver(table);
  }

  /** Decodes one serialized EventBatch; throws {@link WireFormatError} when malformed. */
  decode(buf: Buffer): SensorBatch {
    const r = new WireReader(buf);
    let streamId = 0;
    let firstSeq = 0;
    let lost = 0;
    let missed = 0;
    const strings: string[] = [];
    const eventRanges: number[] = [];
    while (r.pos < r.end) {
      const tag = r.varint();
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 3 && wt === 2) strings.push(r.string());
      else if (field === 4 && wt === 2) {
        const n = r.length();
        eventRanges.push(r.pos, r.pos + n);
        r.pos += n;
      } else if (field === 1 && wt === 0) streamId = r.varint();
      else if (field === 2 && wt === 0) firstSeq = r.varint();
      else if (field === 5 && wt === 0) lost = r.varint();
      else if (field === 6 && wt === 0) missed = r.varint();
      else r.skip(wt);
    }
    if (strings.length === 0) strings.push('');
    this.strs = strings;
    const events = new Array<SyscallEvent>(eventRanges.length / 2);
    for (let i = 0; i < eventRanges.length; i += 2) {
      r.pos = eventRanges[i];
      r.end = eventRanges[i + 1];
      events[i / 2] = this.decodeEvent(r, firstSeq + i / 2);
    }
    return { streamId, firstSeq, events, lost, missed };
  }

  /** String-table lookup; index 0 is "missing". */
  private text(i: number): string | undefined {
    const str = this.strs;
    if (i >= str.length) throw new WireFormatError(`string index ${i} outside the batch's table of ${str.length}`);
    return i === 0 ? undefined : str[i];
  }

  private decodeEvent(r: WireReader, seq: number): SyscallEvent {
    const sl = this.sl;
    const str = this.strs;
    // Preallocated to the table's size so slot writes stay in fast (non-dictionary) elements.
    const v = new Array<FieldValue | undefined>(this.table.size);
    const anc = this.scAnc;
    for (const a of anc) a.length = 0;
    const argNames = this.scArgNames;
    const argValues = this.scArgValues;
    argNames.length = 0;
    argValues.length = 0;
    let res = 0;
    let hasRes = false;
    let exeFlags = 0;
    let fdNum: number | undefined;
    let isServer = false;
    let startNs: bigint | undefined;
    let exeCtime: bigint | undefined;
    let truncated = 0;
    // Hot loop: one switch per field, values written straight into slots.
    while (r.pos < r.end) {
      const tag = r.varint();
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1:
          v[sl[S_EVT_TIME]] = wt === 1 ? r.fixed64() : BigInt(r.varint());
          break;
        case 2:
          v[sl[S_EVT_TYPE]] = this.text(r.varint());
          break;
        case 3:
          res = r.sint();
          hasRes = true;
          break;
        case 4:
          v[sl[S_THREAD_TID]] = r.varint();
          break;
        case 5:
          v[sl[S_PROC_PID]] = r.varint();
          break;
        case 6:
          v[sl[S_PROC_PPID]] = r.varint();
          break;
        case 7:
          v[sl[S_PROC_VPID]] = r.varint();
          break;
        case 8:
          v[sl[S_PROC_SID]] = r.varint();
          break;
        case 9:
          v[sl[S_PROC_VPGID]] = r.sint();
          break;
        case 10:
          v[sl[S_PROC_NAME]] = this.text(r.varint());
          break;
        case 11:
          v[sl[S_PROC_EXE]] = this.text(r.varint());
          break;
        case 12:
          v[sl[S_PROC_EXEPATH]] = this.text(r.varint());
          break;
        case 13:
          v[sl[S_PROC_ARGS]] = this.text(r.varint()) ?? '';
          break;
        case 14:
          v[sl[S_PROC_CWD]] = this.text(r.varint());
          break;
        case 15:
          v[sl[S_PROC_TTY]] = r.varint();
          break;
        case 16:
          v[sl[S_USER_UID]] = r.varint();
          break;
        case 17:
          v[sl[S_GROUP_GID]] = r.varint();
          break;
        case 18:
          v[sl[S_USER_LOGINUID]] = r.sint();
          break;
        case 19:
          v[sl[S_USER_NAME]] = this.text(r.varint());
          break;
        case 20:
          v[sl[S_GROUP_NAME]] = this.text(r.varint());
          break;
        case 21:
          startNs = wt === 1 ? r.fixed64() : BigInt(r.varint());
          break;
        case 22:
          exeFlags = r.varint();
          break;
        case 23:
          r.uint32s(wt, anc[0]);
          break;
        case 24:
          r.uint32s(wt, anc[1]);
          break;
        case 25:
          r.uint32s(wt, anc[2]);
          break;
        case 26:
          r.uint32s(wt, anc[3]);
          break;
        case 27:
          r.uint32s(wt, anc[4]);
          break;
        case 28:
          fdNum = r.sint();
          break;
        case 29:
          v[sl[S_FD_TYPE]] = this.text(r.varint());
          break;
        case 30:
          v[sl[S_FD_NAME]] = this.text(r.varint());
          break;
        case 31:
          v[sl[S_FD_CIP]] = this.text(r.varint());
          break;
        case 32:
          v[sl[S_FD_SIP]] = this.text(r.varint());
          break;
        case 33:
          v[sl[S_FD_CPORT]] = r.varint();
          break;
        case 34:
          v[sl[S_FD_SPORT]] = r.varint();
          break;
        case 35:
          v[sl[S_FD_L4PROTO]] = this.text(r.varint());
          break;
        case 36:
          isServer = r.varint() !== 0;
          break;
        case 37:
          r.uint32s(wt, argNames);
          break;
        case 38:
          r.uint32s(wt, argValues);
          break;
        case 39:
          v[sl[S_CONTAINER_ID]] = this.text(r.varint());
          break;
        case 40:
          v[sl[S_CAP_EFFECTIVE]] = capabilityText(r.fixed64());
          break;
        case 41:
          v[sl[S_CAP_PERMITTED]] = capabilityText(r.fixed64());
          break;
        case 42:
          v[sl[S_CAP_INHERITABLE]] = capabilityText(r.fixed64());
          break;
        case 43:
          v[sl[S_EXE_INO]] = r.varint();
          break;
        case 44:
          exeCtime = r.fixed64();
          v[sl[S_EXE_CTIME]] = exeCtime;
          break;
        case 45:
          v[sl[S_EXE_MTIME]] = r.fixed64();
          break;
        case 46:
          v[sl[S_PROC_ENV]] = this.text(r.varint());
          break;
        case 47:
          v[sl[S_PROC_SNAME]] = this.text(r.varint());
          break;
        case 48:
          v[sl[S_USER_LOGINNAME]] = this.text(r.varint());
          break;
        case 49:
          v[sl[S_THREAD_VTID]] = r.varint();
          break;
        case 50:
          v[sl[S_FD_NAMERAW]] = this.text(r.varint());
          break;
        case 51:
          truncated = r.varint();
          break;
        case 52:
          v[sl[S_FD_CONNECTED]] = r.varint() !== 0;
          break;
        case 53:
          v[sl[S_FD_NAME_CHANGED]] = r.varint() !== 0;
          break;
        default:
          r.skip(wt);
      }
    }
    if (v[sl[S_EVT_TYPE]] === undefined) throw new WireFormatError('event without a type');
    v[sl[S_EVT_NUM]] = seq;
    const ts = v[sl[S_EVT_TIME]];
    if (startNs !== undefined && typeof ts === 'bigint' && ts >= startNs) v[sl[S_PROC_DURATION]] = Number(ts - startNs);
    if (startNs !== undefined && exeCtime !== undefined) v[sl[S_EXE_CTIME_TO_START]] = Number(startNs - exeCtime);
    if (truncated) v[sl[S_EVT_TRUNCATED]] = TRUNCATED_NAMES.filter((_, i) => truncated & (1 << i)).join(',');
    const vpgid = v[sl[S_PROC_VPGID]];
    if (vpgid !== undefined && v[sl[S_PROC_VPID]] !== undefined)
      v[sl[S_IS_VPGID_LEADER]] = vpgid === v[sl[S_PROC_VPID]];
    const sid = v[sl[S_PROC_SID]];
    if (sid !== undefined && v[sl[S_PROC_PID]] !== undefined) v[sl[S_IS_SID_LEADER]] = sid === v[sl[S_PROC_PID]];
    v[sl[S_EVT_DIR]] = '<';
    v[sl[S_EVT_SOURCE]] = 'syscall';
    if (hasRes) {
      v[sl[S_EVT_RAWRES]] = res;
      v[sl[S_EVT_FAILED]] = res < 0;
      v[sl[S_EVT_RES]] = res >= 0 ? 'SUCCESS' : (ERRNO_NAMES.get(-res) ?? `E${-res}`);
    }
    v[sl[S_PROC_IS_EXE_UPPER_LAYER]] = (exeFlags & 1) !== 0;
    v[sl[S_PROC_IS_EXE_FROM_MEMFD]] = (exeFlags & 2) !== 0;
    v[sl[S_PROC_IS_EXE_WRITABLE]] = (exeFlags & 4) !== 0;
    const name = v[sl[S_PROC_NAME]];
    if (typeof name === 'string') {
      const args = v[sl[S_PROC_ARGS]];
      v[sl[S_PROC_CMDLINE]] = typeof args === 'string' && args ? `${name} ${args}` : name;
    }
    if (fdNum !== undefined) {
      v[sl[S_FD_NUM]] = fdNum;
      const t = v[sl[S_FD_TYPE]];
      if (typeof t === 'string') {
        const c = TYPE_CHAR[t];
        if (c) v[sl[S_FD_TYPECHAR]] = c;
        if (t === 'ipv4' || t === 'ipv6') {
          v[sl[S_FD_SOCKFAMILY]] = 'ip';
          v[sl[S_FD_IS_SERVER]] = isServer;
          v[sl[S_FD_LIP]] = isServer ? v[sl[S_FD_SIP]] : v[sl[S_FD_CIP]];
          v[sl[S_FD_RIP]] = isServer ? v[sl[S_FD_CIP]] : v[sl[S_FD_SIP]];
          v[sl[S_FD_LPORT]] = isServer ? v[sl[S_FD_SPORT]] : v[sl[S_FD_CPORT]];
          v[sl[S_FD_RPORT]] = isServer ? v[sl[S_FD_CPORT]] : v[sl[S_FD_SPORT]];
        } else if (t === 'unix') v[sl[S_FD_SOCKFAMILY]] = 'unix';
      }
    }
    for (let f = 0; f < 5; f++) {
      const src = anc[f];
      const slots = this.anc[f];
      const n = Math.min(src.length, MAX_ANCESTOR_LEVEL);
      // ancestor slots are created for the levels that actually occur
      while (slots.length < n) slots.push(this.table.intern(`${ANC_FIELDS[f]}[${slots.length + 1}]`));
      for (let i = 0; i < n; i++) v[slots[i]] = f === 1 ? src[i] : this.text(src[i]);
    }
    if (argNames.length !== argValues.length)
      throw new WireFormatError(`${argNames.length} argument names for ${argValues.length} values`);
    for (let i = 0; i < argNames.length; i++) {
      const argName = this.text(argNames[i]);
      if (argName === undefined) continue;
      let slot = this.argSlots.get(argName);
      if (slot === undefined) {
        slot = this.table.intern(`evt.arg.${argName}`);
        if (this.argSlots.size < 1024) this.argSlots.set(argName, slot);
      }
      if (slot >= 0) v[slot] = str[argValues[i]] ?? '';
    }
    this.deriver.derive(v, seq);
    return new SyscallEvent(v);
  }
}
