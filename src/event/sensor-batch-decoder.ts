import { constants } from 'node:os';
import type { FieldValue } from './field-value.js';
import type { FieldKeyTable } from './field-key-table.js';
import { FieldDeriver } from './derive-fields.js';
import { MAX_ANCESTOR_LEVEL } from './field-catalog.js';
import { SyscallEvent } from './syscall-event.js';
import { WireFormatError, WireReader } from './wire-reader.js';

/** A decoded `peregrine.sensor.v1.EventBatch`. */
export interface SensorBatch {
  readonly streamId: number;
  readonly firstSeq: number;
  readonly events: SyscallEvent[];
  readonly lost: number;
  readonly missed: number;
}

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(constants.errno).map(([k, v]) => [v, k]));
const TYPE_CHAR: Readonly<Record<string, string>> = {
  file: 'f', directory: 'd', ipv4: '4', ipv6: '6', unix: 'u', pipe: 'p', event: 'e', signalfd: 's', eventpoll: 'l',
  inotify: 'i', timerfd: 't', netlink: 'n', memfd: 'm', bpf: 'b', userfaultfd: 'r', io_uring: 'o',
};

/** Per-event scratch filled from the wire before slots are written. */
interface Scratch {
  anc: number[][]; // name, pid, exe, exepath, cmdline string/number arrays
  argNames: number[];
  argValues: number[];
}

/**
 * Decodes sensor batches (see proto/peregrine/sensor/v1/sensor.proto) straight into engine
 * events. Hand-written over the wire format because this is the hottest decode in the agent:
 * the string table is decoded once per batch and events refer to it by index, and field
 * values go directly into event slots (no intermediate objects).
 */
export class SensorBatchDecoder {
  private readonly s: Record<string, number> = {};
  private readonly anc: number[][] = [];
  private readonly argSlots = new Map<string, number>();
  private readonly deriver: FieldDeriver;

  constructor(private readonly table: FieldKeyTable) {
    for (const k of [
      'evt.type', 'evt.time', 'evt.num', 'evt.dir', 'evt.rawres', 'evt.res', 'evt.failed', 'thread.tid', 'proc.pid',
      'proc.ppid', 'proc.vpid', 'proc.sid', 'proc.vpgid', 'proc.name', 'proc.exe', 'proc.exepath', 'proc.args',
      'proc.cmdline', 'proc.cwd', 'proc.tty', 'user.uid', 'group.gid', 'user.loginuid', 'user.name', 'group.name',
      'proc.is_exe_upper_layer', 'proc.is_exe_from_memfd', 'proc.is_exe_writable', 'fd.num', 'fd.type', 'fd.typechar',
      'fd.name', 'fd.cip', 'fd.sip', 'fd.cport', 'fd.sport', 'fd.l4proto', 'fd.is_server', 'fd.lip', 'fd.rip',
      'fd.lport', 'fd.rport', 'fd.sockfamily', 'container.id', 'evt.source', 'proc.duration',
    ]) this.s[k] = table.intern(k);
    for (const f of ['proc.aname', 'proc.apid', 'proc.aexe', 'proc.aexepath', 'proc.acmdline']) {
      const row: number[] = [];
      for (let i = 1; i <= MAX_ANCESTOR_LEVEL; i++) row.push(table.intern(`${f}[${i}]`));
      this.anc.push(row);
    }
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
    const events: SyscallEvent[] = new Array(eventRanges.length / 2);
    for (let i = 0; i < eventRanges.length; i += 2) {
      events[i / 2] = this.decodeEvent(new WireReader(buf, eventRanges[i], eventRanges[i + 1]), strings, firstSeq + i / 2);
    }
    return { streamId, firstSeq, events, lost, missed };
  }

  private decodeEvent(r: WireReader, str: string[], seq: number): SyscallEvent {
    const s = this.s;
    const v: Array<FieldValue | undefined> = [];
    const sc: Scratch = { anc: [[], [], [], [], []], argNames: [], argValues: [] };
    const text = (i: number): string | undefined => {
      if (i >= str.length) throw new WireFormatError(`string index ${i} outside the batch's table of ${str.length}`);
      return i === 0 ? undefined : str[i];
    };
    let res = 0;
    let hasRes = false;
    let exeFlags = 0;
    let fdNum: number | undefined;
    let isServer = false;
    let startNs: bigint | undefined;
    // Hot loop: one switch per field, values written straight into slots.
    while (r.pos < r.end) {
      const tag = r.varint();
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1: v[s['evt.time']] = wt === 1 ? r.fixed64() : BigInt(r.varint()); break;
        case 2: v[s['evt.type']] = text(r.varint()); break;
        case 3: res = r.sint(); hasRes = true; break;
        case 4: v[s['thread.tid']] = r.varint(); break;
        case 5: v[s['proc.pid']] = r.varint(); break;
        case 6: v[s['proc.ppid']] = r.varint(); break;
        case 7: v[s['proc.vpid']] = r.varint(); break;
        case 8: v[s['proc.sid']] = r.varint(); break;
        case 9: v[s['proc.vpgid']] = r.sint(); break;
        case 10: v[s['proc.name']] = text(r.varint()); break;
        case 11: v[s['proc.exe']] = text(r.varint()); break;
        case 12: v[s['proc.exepath']] = text(r.varint()); break;
        case 13: v[s['proc.args']] = text(r.varint()) ?? ''; break;
        case 14: v[s['proc.cwd']] = text(r.varint()); break;
        case 15: v[s['proc.tty']] = r.varint(); break;
        case 16: v[s['user.uid']] = r.varint(); break;
        case 17: v[s['group.gid']] = r.varint(); break;
        case 18: v[s['user.loginuid']] = r.sint(); break;
        case 19: v[s['user.name']] = text(r.varint()); break;
        case 20: v[s['group.name']] = text(r.varint()); break;
        case 21: startNs = wt === 1 ? r.fixed64() : BigInt(r.varint()); break;
        case 22: exeFlags = r.varint(); break;
        case 23: r.uint32s(wt, sc.anc[0]); break;
        case 24: r.uint32s(wt, sc.anc[1]); break;
        case 25: r.uint32s(wt, sc.anc[2]); break;
        case 26: r.uint32s(wt, sc.anc[3]); break;
        case 27: r.uint32s(wt, sc.anc[4]); break;
        case 28: fdNum = r.sint(); break;
        case 29: v[s['fd.type']] = text(r.varint()); break;
        case 30: v[s['fd.name']] = text(r.varint()); break;
        case 31: v[s['fd.cip']] = text(r.varint()); break;
        case 32: v[s['fd.sip']] = text(r.varint()); break;
        case 33: v[s['fd.cport']] = r.varint(); break;
        case 34: v[s['fd.sport']] = r.varint(); break;
        case 35: v[s['fd.l4proto']] = text(r.varint()); break;
        case 36: isServer = r.varint() !== 0; break;
        case 37: r.uint32s(wt, sc.argNames); break;
        case 38: r.uint32s(wt, sc.argValues); break;
        case 39: v[s['container.id']] = text(r.varint()); break;
        default: r.skip(wt);
      }
    }
    if (v[s['evt.type']] === undefined) throw new WireFormatError('event without a type');
    v[s['evt.num']] = seq;
    const ts = v[s['evt.time']];
    if (startNs !== undefined && typeof ts === 'bigint' && ts >= startNs) v[s['proc.duration']] = Number(ts - startNs);
    v[s['evt.dir']] = '<';
    v[s['evt.source']] = 'syscall';
    if (hasRes) {
      v[s['evt.rawres']] = res;
      v[s['evt.failed']] = res < 0;
      v[s['evt.res']] = res >= 0 ? 'SUCCESS' : (ERRNO_NAMES.get(-res) ?? `E${-res}`);
    }
    v[s['proc.is_exe_upper_layer']] = (exeFlags & 1) !== 0;
    v[s['proc.is_exe_from_memfd']] = (exeFlags & 2) !== 0;
    v[s['proc.is_exe_writable']] = (exeFlags & 4) !== 0;
    const name = v[s['proc.name']];
    if (name !== undefined) {
      const args = v[s['proc.args']];
      v[s['proc.cmdline']] = args ? `${name} ${args}` : name;
    }
    if (fdNum !== undefined) {
      v[s['fd.num']] = fdNum;
      const t = v[s['fd.type']];
      if (typeof t === 'string') {
        const c = TYPE_CHAR[t];
        if (c) v[s['fd.typechar']] = c;
        if (t === 'ipv4' || t === 'ipv6') {
          v[s['fd.sockfamily']] = 'ip';
          v[s['fd.is_server']] = isServer;
          v[s['fd.lip']] = isServer ? v[s['fd.sip']] : v[s['fd.cip']];
          v[s['fd.rip']] = isServer ? v[s['fd.cip']] : v[s['fd.sip']];
          v[s['fd.lport']] = isServer ? v[s['fd.sport']] : v[s['fd.cport']];
          v[s['fd.rport']] = isServer ? v[s['fd.cport']] : v[s['fd.sport']];
        } else if (t === 'unix') v[s['fd.sockfamily']] = 'unix';
      }
    }
    for (let f = 0; f < 5; f++) {
      const src = sc.anc[f];
      const slots = this.anc[f];
      const n = Math.min(src.length, MAX_ANCESTOR_LEVEL);
      for (let i = 0; i < n; i++) v[slots[i]] = f === 1 ? src[i] : text(src[i]);
    }
    if (sc.argNames.length !== sc.argValues.length) throw new WireFormatError(`${sc.argNames.length} argument names for ${sc.argValues.length} values`);
    for (let i = 0; i < sc.argNames.length; i++) {
      const argName = text(sc.argNames[i]);
      if (argName === undefined) continue;
      let slot = this.argSlots.get(argName);
      if (slot === undefined) {
        slot = this.table.intern(`evt.arg.${argName}`);
        if (this.argSlots.size < 1024) this.argSlots.set(argName, slot);
      }
      if (slot >= 0) v[slot] = str[sc.argValues[i]] ?? '';
    }
    this.deriver.derive(v, seq);
    return new SyscallEvent(v);
  }
}
