import type { FieldValue } from './field-value.js';
import type { FieldKeyTable } from './field-key-table.js';

const TYPE_TO_CHAR: Readonly<Record<string, string>> = {
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
  pidfd: 'c',
  file_descriptor: 'f',
};
const CHAR_TO_TYPE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TYPE_TO_CHAR)
    .filter(([k]) => k !== 'file_descriptor')
    .map(([k, v]) => [v, k]),
);
const OPEN_TYPES = new Set(['open', 'openat', 'openat2', 'creat', 'open_by_handle_at']);

type Slots = Array<FieldValue | undefined>;

/** Fields derivations read or write; D_* constants index them. */
const DERIVE_KEYS = [
  'evt.type',
  'evt.num',
  'evt.dir',
  'evt.rawres',
  'evt.failed',
  'evt.res',
  'evt.arg.flags',
  'evt.arg.mode',
  'evt.is_open_read',
  'evt.is_open_write',
  'evt.is_open_exec',
  'evt.is_open_create',
  'evt.time',
  'evt.time.iso8601',
  'evt.rawtime',
  'fd.name',
  'fd.type',
  'fd.typechar',
  'fd.directory',
  'fd.filename',
  'fd.cip',
  'fd.sip',
  'fd.lip',
  'fd.rip',
  'fd.cnet',
  'fd.snet',
  'fd.lnet',
  'fd.rnet',
  'proc.name',
  'proc.pid',
  'proc.pname',
  'proc.ppid',
  'proc.exe',
  'proc.args',
  'proc.cmdline',
  'proc.aname[0]',
  'proc.aname[1]',
  'proc.apid[0]',
  'proc.apid[1]',
  'proc.pcmdline',
  'proc.acmdline[1]',
  'proc.exepath',
  'proc.aexepath[0]',
  'proc.pexepath',
  'proc.aexepath[1]',
  'proc.aexe[0]',
  'proc.pexe',
  'proc.aexe[1]',
  'proc.acmdline[0]',
  'fs.path.name',
] as const;
const D_EVT_TYPE = 0;
const D_EVT_NUM = 1;
const D_EVT_DIR = 2;
const D_EVT_RAWRES = 3;
const D_EVT_FAILED = 4;
const D_EVT_RES = 5;
const D_EVT_ARG_FLAGS = 6;
const D_EVT_ARG_MODE = 7;
const D_EVT_IS_OPEN_READ = 8;
const D_EVT_IS_OPEN_WRITE = 9;
const D_EVT_IS_OPEN_EXEC = 10;
const D_EVT_IS_OPEN_CREATE = 11;
const D_EVT_TIME = 12;
const D_EVT_TIME_ISO8601 = 13;
const D_EVT_RAWTIME = 14;
const D_FD_NAME = 15;
const D_FD_TYPE = 16;
const D_FD_TYPECHAR = 17;
const D_FD_DIRECTORY = 18;
const D_FD_FILENAME = 19;
const D_PROC_NAME = 28;
const D_PROC_ARGS = 33;
const D_PROC_CMDLINE = 34;
const D_PROC_ACMDLINE_0_ = 48;

/**
 * Fills the fields libsinsp derives from others when a source did not supply them
 * (`fd.directory` from a file's `fd.name`, `fd.typechar` ⇄ `fd.type`, the `evt.is_open_*`
 * flags from `evt.arg.flags`, `proc.pname` ⇄ `proc.aname[1]`, ...). Slots are resolved once.
 */
export class FieldDeriver {
  /** Slots of DERIVE_KEYS by the D_* indexes (numeric: hot loads are array reads). */
  private readonly sl: Int32Array;
  /** Parsed open flags by their text (flags strings repeat; bounded). */
  /** Slot pairs that mirror each other (proc.pname ⇄ proc.aname[1], ...), flattened. */
  private readonly pairs: number[];
  /** Address slot → network slot pairs, flattened. */
  private readonly nets: number[];
  private readonly flagCache = new Map<string, readonly [boolean, boolean, boolean, boolean]>();

  constructor(table: FieldKeyTable) {
    this.sl = Int32Array.from(DERIVE_KEYS, (k) => table.intern(k));
    const slot = (k: string): number => this.sl[DERIVE_KEYS.indexOf(k as (typeof DERIVE_KEYS)[number])];
    const pairs: Array<[string, string]> = [
      ['proc.pname', 'proc.aname[1]'],
      ['proc.ppid', 'proc.apid[1]'],
      ['proc.pexepath', 'proc.aexepath[1]'],
      ['proc.pexe', 'proc.aexe[1]'],
      ['proc.pcmdline', 'proc.acmdline[1]'],
      ['proc.name', 'proc.aname[0]'],
      ['proc.pid', 'proc.apid[0]'],
      ['proc.exepath', 'proc.aexepath[0]'],
      ['proc.exe', 'proc.aexe[0]'],
    ];
    this.pairs = pairs.flatMap(([a, b]) => [slot(a), slot(b)]);
    this.nets = [
      ['fd.cip', 'fd.cnet'],
      ['fd.sip', 'fd.snet'],
      ['fd.lip', 'fd.lnet'],
      ['fd.rip', 'fd.rnet'],
    ].flatMap(([a, b]) => [slot(a), slot(b)]);
  }

  /** Completes `v` in place. `lineNo` is the default `evt.num`. */
  derive(v: Slots, lineNo: number): void {
    // Hot path (every decoded event): slots are read once into locals.
    const sl = this.sl;
    const num = sl[D_EVT_NUM];
    if (v[num] === undefined) v[num] = lineNo;
    const dir = sl[D_EVT_DIR];
    if (v[dir] === undefined) v[dir] = '<';
    const time = v[sl[D_EVT_TIME]];
    if (time !== undefined) {
      if (v[sl[D_EVT_TIME_ISO8601]] === undefined) v[sl[D_EVT_TIME_ISO8601]] = time;
      if (v[sl[D_EVT_RAWTIME]] === undefined) v[sl[D_EVT_RAWTIME]] = time;
    }
    const rawres = v[sl[D_EVT_RAWRES]];
    if (typeof rawres === 'number') {
      if (v[sl[D_EVT_FAILED]] === undefined) v[sl[D_EVT_FAILED]] = rawres < 0;
      if (v[sl[D_EVT_RES]] === undefined && rawres >= 0) v[sl[D_EVT_RES]] = 'SUCCESS';
    }

    // fd type <-> typechar
    const fdTypeSlot = sl[D_FD_TYPE];
    const fdCharSlot = sl[D_FD_TYPECHAR];
    const fdType = v[fdTypeSlot];
    const fdChar = v[fdCharSlot];
    if (fdChar === undefined && typeof fdType === 'string' && TYPE_TO_CHAR[fdType])
      v[fdCharSlot] = TYPE_TO_CHAR[fdType];
    else if (fdType === undefined && typeof fdChar === 'string' && CHAR_TO_TYPE[fdChar])
      v[fdTypeSlot] = CHAR_TO_TYPE[fdChar];
    const fdName = v[sl[D_FD_NAME]];
    const ch = v[fdCharSlot];
    if (
      typeof fdName === 'string' &&
      fdName.charCodeAt(0) === 47 /* / */ &&
      (ch === 'f' || ch === 'd' || ch === undefined)
    ) {
      const slash = fdName.lastIndexOf('/');
      const dSlot = sl[D_FD_DIRECTORY];
      if (v[dSlot] === undefined) v[dSlot] = ch === 'd' ? fdName : slash === 0 ? '/' : fdName.slice(0, slash);
      const fSlot = sl[D_FD_FILENAME];
      if (v[fSlot] === undefined && ch !== 'd') v[fSlot] = fdName.slice(slash + 1);
    }
    const nets = this.nets;
    for (let i = 0; i < nets.length; i += 2) {
      const ip = v[nets[i]];
      if (ip !== undefined && v[nets[i + 1]] === undefined) v[nets[i + 1]] = ip;
    }

    // open flags
    const type = v[sl[D_EVT_TYPE]];
    if (typeof type === 'string' && OPEN_TYPES.has(type)) this.deriveOpenFlags(v);

    // process lineage
    const p = this.pairs;
    for (let i = 0; i < p.length; i += 2) {
      const a = p[i];
      const b = p[i + 1];
      if (v[a] === undefined) {
        if (v[b] !== undefined) v[a] = v[b];
      } else if (v[b] === undefined) v[b] = v[a];
    }
    const cmd = sl[D_PROC_CMDLINE];
    const name = v[sl[D_PROC_NAME]];
    if (v[cmd] === undefined && typeof name === 'string') {
      const args = v[sl[D_PROC_ARGS]];
      v[cmd] = typeof args === 'string' && args !== '' ? `${name} ${args}` : name;
    }
    const acmd0 = sl[D_PROC_ACMDLINE_0_];
    if (v[acmd0] === undefined && v[cmd] !== undefined) v[acmd0] = v[cmd];
  }

  private deriveOpenFlags(v: Slots): void {
    const sl = this.sl;
    const flags = v[sl[D_EVT_ARG_FLAGS]];
    if (typeof flags !== 'string') return;
    const mode = v[sl[D_EVT_ARG_MODE]];
    const key = typeof mode === 'string' || typeof mode === 'number' ? `${flags}\u0000${mode}` : flags;
    let parsed = this.flagCache.get(key);
    if (!parsed) {
      const names = new Set(flags.replace(/^\d+\(|\)$/g, '').split('|'));
      const rdwr = names.has('O_RDWR');
      const wr = names.has('O_WRONLY') || rdwr;
      const rd = names.has('O_RDONLY') || rdwr || (!wr && /^0?$/.test(flags));
      const create = names.has('O_CREAT');
      const modeBits =
        typeof mode === 'string' ? parseInt(mode.replace(/\(.*$/, ''), 8) : typeof mode === 'number' ? mode : 0;
      const exec = names.has('O_EXEC') || names.has('FMODE_EXEC') || (create && (modeBits & 0o111) !== 0);
      parsed = [rd, wr, exec, create];
      if (this.flagCache.size < 4096) this.flagCache.set(key, parsed);
    }
    if (v[sl[D_EVT_IS_OPEN_READ]] === undefined) v[sl[D_EVT_IS_OPEN_READ]] = parsed[0];
    if (v[sl[D_EVT_IS_OPEN_WRITE]] === undefined) v[sl[D_EVT_IS_OPEN_WRITE]] = parsed[1];
    if (v[sl[D_EVT_IS_OPEN_EXEC]] === undefined) v[sl[D_EVT_IS_OPEN_EXEC]] = parsed[2];
    if (v[sl[D_EVT_IS_OPEN_CREATE]] === undefined) v[sl[D_EVT_IS_OPEN_CREATE]] = parsed[3];
  }
}
