import type { FieldValue } from './field-value.js';
import type { FieldKeyTable } from './field-key-table.js';

const TYPE_TO_CHAR: Readonly<Record<string, string>> = {
  file: 'f', directory: 'd', ipv4: '4', ipv6: '6', unix: 'u', pipe: 'p', event: 'e', signalfd: 's',
  eventpoll: 'l', inotify: 'i', timerfd: 't', netlink: 'n', memfd: 'm', bpf: 'b', userfaultfd: 'r',
  io_uring: 'o', pidfd: 'c', file_descriptor: 'f',
};
const CHAR_TO_TYPE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TYPE_TO_CHAR).filter(([k]) => k !== 'file_descriptor').map(([k, v]) => [v, k]),
);
const OPEN_TYPES = new Set(['open', 'openat', 'openat2', 'creat', 'open_by_handle_at']);

type Slots = Array<FieldValue | undefined>;

/**
 * Fills the fields libsinsp derives from others when a source did not supply them
 * (`fd.directory` from a file's `fd.name`, `fd.typechar` ⇄ `fd.type`, the `evt.is_open_*`
 * flags from `evt.arg.flags`, `proc.pname` ⇄ `proc.aname[1]`, ...). Slots are resolved once.
 */
export class FieldDeriver {
  private readonly s: Record<string, number>;

  constructor(table: FieldKeyTable) {
    const keys = [
      'evt.type', 'evt.num', 'evt.dir', 'evt.rawres', 'evt.failed', 'evt.res', 'evt.arg.flags', 'evt.arg.mode',
      'evt.is_open_read', 'evt.is_open_write', 'evt.is_open_exec', 'evt.is_open_create', 'evt.time',
      'evt.time.iso8601', 'evt.rawtime',
      'fd.name', 'fd.type', 'fd.typechar', 'fd.directory', 'fd.filename', 'fd.cip', 'fd.sip', 'fd.lip', 'fd.rip',
      'fd.cnet', 'fd.snet', 'fd.lnet', 'fd.rnet',
      'proc.name', 'proc.pid', 'proc.pname', 'proc.ppid', 'proc.exe', 'proc.args', 'proc.cmdline',
      'proc.aname[0]', 'proc.aname[1]', 'proc.apid[0]', 'proc.apid[1]', 'proc.pcmdline', 'proc.acmdline[1]',
      'proc.exepath', 'proc.aexepath[0]', 'proc.pexepath', 'proc.aexepath[1]', 'proc.aexe[0]', 'proc.pexe',
      'proc.aexe[1]', 'proc.acmdline[0]', 'fs.path.name',
    ];
    this.s = {};
    for (const k of keys) this.s[k] = table.intern(k);
  }

  /** Completes `v` in place. `lineNo` is the default `evt.num`. */
  derive(v: Slots, lineNo: number): void {
    const s = this.s;
    if (v[s['evt.num']] === undefined) v[s['evt.num']] = lineNo;
    if (v[s['evt.dir']] === undefined) v[s['evt.dir']] = '<';
    const time = v[s['evt.time']];
    if (time !== undefined) {
      if (v[s['evt.time.iso8601']] === undefined) v[s['evt.time.iso8601']] = time;
      if (v[s['evt.rawtime']] === undefined) v[s['evt.rawtime']] = time;
    }
    const rawres = v[s['evt.rawres']];
    if (v[s['evt.failed']] === undefined && typeof rawres === 'number') v[s['evt.failed']] = rawres < 0;
    if (v[s['evt.res']] === undefined && typeof rawres === 'number' && rawres >= 0) v[s['evt.res']] = 'SUCCESS';

    // fd type <-> typechar
    const fdType = v[s['fd.type']];
    const fdChar = v[s['fd.typechar']];
    if (fdChar === undefined && typeof fdType === 'string' && TYPE_TO_CHAR[fdType]) v[s['fd.typechar']] = TYPE_TO_CHAR[fdType];
    if (fdType === undefined && typeof fdChar === 'string' && CHAR_TO_TYPE[fdChar]) v[s['fd.type']] = CHAR_TO_TYPE[fdChar];
    const fdName = v[s['fd.name']];
    const ch = v[s['fd.typechar']];
    if (typeof fdName === 'string' && fdName.startsWith('/') && (ch === 'f' || ch === 'd' || ch === undefined)) {
      const slash = fdName.lastIndexOf('/');
      if (v[s['fd.directory']] === undefined) {
        v[s['fd.directory']] = ch === 'd' ? fdName : slash === 0 ? '/' : fdName.slice(0, slash);
      }
      if (v[s['fd.filename']] === undefined && ch !== 'd') v[s['fd.filename']] = fdName.slice(slash + 1);
    }
    for (const [ip, net] of [['fd.cip', 'fd.cnet'], ['fd.sip', 'fd.snet'], ['fd.lip', 'fd.lnet'], ['fd.rip', 'fd.rnet']]) {
      if (v[s[net]] === undefined && v[s[ip]] !== undefined) v[s[net]] = v[s[ip]];
    }

    // open flags
    const type = v[s['evt.type']];
    if (typeof type === 'string' && OPEN_TYPES.has(type)) this.deriveOpenFlags(v);

    // process lineage
    this.pair(v, 'proc.pname', 'proc.aname[1]');
    this.pair(v, 'proc.ppid', 'proc.apid[1]');
    this.pair(v, 'proc.pexepath', 'proc.aexepath[1]');
    this.pair(v, 'proc.pexe', 'proc.aexe[1]');
    this.pair(v, 'proc.pcmdline', 'proc.acmdline[1]');
    this.pair(v, 'proc.name', 'proc.aname[0]');
    this.pair(v, 'proc.pid', 'proc.apid[0]');
    this.pair(v, 'proc.exepath', 'proc.aexepath[0]');
    this.pair(v, 'proc.exe', 'proc.aexe[0]');
    if (v[s['proc.cmdline']] === undefined && typeof v[s['proc.name']] === 'string') {
      const args = v[s['proc.args']];
      v[s['proc.cmdline']] = typeof args === 'string' && args !== '' ? `${v[s['proc.name']]} ${args}` : v[s['proc.name']];
    }
    this.pair(v, 'proc.cmdline', 'proc.acmdline[0]');
  }

  private pair(v: Slots, a: string, b: string): void {
    const ia = this.s[a];
    const ib = this.s[b];
    if (v[ia] === undefined && v[ib] !== undefined) v[ia] = v[ib];
    else if (v[ib] === undefined && v[ia] !== undefined) v[ib] = v[ia];
  }

  private deriveOpenFlags(v: Slots): void {
    const s = this.s;
    const flags = v[s['evt.arg.flags']];
    if (typeof flags !== 'string') return;
    const names = new Set(flags.replace(/^\d+\(|\)$/g, '').split('|'));
    const rdwr = names.has('O_RDWR');
    const wr = names.has('O_WRONLY') || rdwr;
    const rd = names.has('O_RDONLY') || rdwr || (!wr && /^0?$/.test(flags));
    const create = names.has('O_CREAT');
    const mode = v[s['evt.arg.mode']];
    const modeBits = typeof mode === 'string' ? parseInt(mode.replace(/\(.*$/, ''), 8) : typeof mode === 'number' ? mode : 0;
    const exec = names.has('O_EXEC') || names.has('FMODE_EXEC') || (create && (modeBits & 0o111) !== 0);
    if (v[s['evt.is_open_read']] === undefined) v[s['evt.is_open_read']] = rd;
    if (v[s['evt.is_open_write']] === undefined) v[s['evt.is_open_write']] = wr;
    if (v[s['evt.is_open_exec']] === undefined) v[s['evt.is_open_exec']] = exec;
    if (v[s['evt.is_open_create']] === undefined) v[s['evt.is_open_create']] = create;
  }
}
