import { CAPABILITY_NAMES } from '../event/index.js';
import protobuf from 'protobufjs';

const { Type: ProtoType, Field: ProtoField, OneOf: ProtoOneOf } = protobuf;
import type { FieldKeyTable } from '../event/index.js';
import { FlatEventDecoder } from '../event/index.js';
import type { SyscallEvent } from '../event/index.js';
import type { FieldValue } from '../event/index.js';
import { containerFieldEntries, parseImageRef, type ContainerMeta } from '../event/index.js';

/** What one Tetragon `GetEventsResponse` became. */
export interface TetragonDecoded {
  /** The mapped event, or undefined for kinds Peregrine does not map (counted by the caller). */
  readonly event?: SyscallEvent;
  /** Events Tetragon reports it dropped (rate_limit_info). */
  readonly lost: number;
  /** The message kind, for counting unmapped kinds (`process_tracepoint`, `kprobe:tcp_close`, ...). */
  readonly kind: string;
}

type Msg = Record<string, unknown>;

/** A decoded scalar as text: strings as they are, numbers and booleans printed, anything else (absent, nested) empty. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return '';
}
type LongLike = number | { toNumber(): number };

const NUM = (v: unknown): number | undefined => {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && 'value' in (v as Msg)) return NUM((v as Msg).value); // UInt32Value
  if (typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function')
    return (v as { toNumber(): number }).toNumber();
  return Number(v);
};

/** The value of a KprobeArgument's `arg` oneof (protobufjs sets defaults on the others). */
function argValue(a: Msg | undefined): unknown {
  if (!a) return undefined;
  const which = a.arg as string | undefined;
  if (which) return a[which];
  for (const k of ['int_arg', 'long_arg', 'size_arg', 'string_arg', 'file_arg', 'path_arg', 'sock_arg'])
    if (a[k] !== undefined && a[k] !== null) return a[k];
  return undefined;
}

function argKind(a: Msg): string | undefined {
  return (
    (a.arg as string | undefined) ??
    ['int_arg', 'long_arg', 'size_arg', 'string_arg', 'file_arg', 'path_arg', 'sock_arg'].find(
      (k) => a[k] !== undefined && a[k] !== null,
    )
  );
}

/** Capability list as Falco prints it: `CAP_CHOWN CAP_SYS_MODULE ...`. */
function capText(v: unknown): string | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.map((c) => (typeof c === 'number' ? (CAPABILITY_NAMES[c] ?? String(c)) : String(c))).join(' ');
}

/** Tetragon's kprobe functions → Falco event types. Names are normalised (syscall prefixes removed). */
export const TETRAGON_KPROBE_TYPES: Readonly<Record<string, string>> = {
  security_file_permission: 'openat',
  security_file_open: 'openat',
  fd_install: 'openat',
  openat: 'openat',
  openat2: 'openat2',
  open: 'open',
  do_sys_open: 'openat',
  do_sys_openat2: 'openat2',
  security_mmap_file: 'mmap',
  tcp_connect: 'connect',
  connect: 'connect',
  inet_csk_accept: 'accept4',
  accept: 'accept',
  accept4: 'accept4',
  setuid: 'setuid',
  setgid: 'setgid',
  setresuid: 'setresuid',
  setresgid: 'setresgid',
  setreuid: 'setreuid',
  ptrace: 'ptrace',
  unlinkat: 'unlinkat',
  unlink: 'unlink',
  security_path_unlink: 'unlinkat',
  rename: 'rename',
  renameat: 'renameat',
  renameat2: 'renameat2',
  security_path_rename: 'renameat2',
  symlinkat: 'symlinkat',
  symlink: 'symlink',
  linkat: 'linkat',
  link: 'link',
  mkdirat: 'mkdirat',
  mkdir: 'mkdir',
  rmdir: 'rmdir',
  chmod: 'chmod',
  fchmodat: 'fchmodat',
  fchmod: 'fchmod',
  mount: 'mount',
  umount: 'umount2',
  umount2: 'umount2',
  init_module: 'init_module',
  finit_module: 'finit_module',
  memfd_create: 'memfd_create',
  bpf: 'bpf',
  setns: 'setns',
  unshare: 'unshare',
  userfaultfd: 'userfaultfd',
  dup: 'dup',
  dup2: 'dup2',
  dup3: 'dup3',
  listen: 'listen',
  bind: 'bind',
  socket: 'socket',
  sendto: 'sendto',
  sendmsg: 'sendmsg',
};

const PTRACE: Readonly<Record<number, string>> = {
  0: 'PTRACE_TRACEME',
  16: 'PTRACE_ATTACH',
  17: 'PTRACE_DETACH',
  16902: 'PTRACE_SEIZE',
  4: 'PTRACE_POKETEXT',
  5: 'PTRACE_POKEDATA',
};
const SYSCALL_PREFIX = /^(__x64_sys_|__arm64_sys_|__ia32_sys_|__se_sys_|__do_sys_|ksys_|sys_)/;

/**
 * Lite views of GetEventsResponse for the hot path: process, parent and ancestors stay raw
 * bytes (decoded only on a cache miss); ProcessKey reads just the fields of the cache key.
 */
function liteTypes(root: protobuf.Root): [protobuf.Type, protobuf.Type] {
  const existing = root.lookup('peregrine_tetragon_lite');
  if (existing)
    return [root.lookupType('peregrine_tetragon_lite.Response'), root.lookupType('peregrine_tetragon_lite.ProcessKey')];
  const ns = root.define('peregrine_tetragon_lite');
  const T = (name: string, fields: Array<[string, number, string, boolean?]>): protobuf.Type => {
    const t = new ProtoType(name);
    for (const [n, id, type, repeated] of fields) t.add(new ProtoField(n, id, type, repeated ? 'repeated' : undefined));
    ns.add(t);
    return t;
  };
  T('ProcessKey', [
    ['exec_id', 1, 'string'],
    ['uid', 3, 'bytes'],
    ['binary', 5, 'string'],
    ['arguments', 6, 'string'],
    ['user', 19, 'bytes'],
  ]);
  T('Exec', [
    ['process', 1, 'bytes'],
    ['parent', 2, 'bytes'],
    ['ancestors', 3, 'bytes', true],
  ]);
  T('Exit', [
    ['process', 1, 'bytes'],
    ['parent', 2, 'bytes'],
    ['signal', 3, 'string'],
    ['status', 4, 'uint32'],
    ['ancestors', 6, 'bytes', true],
  ]);
  T('Kprobe', [
    ['process', 1, 'bytes'],
    ['parent', 2, 'bytes'],
    ['function_name', 3, 'string'],
    ['args', 4, 'tetragon.KprobeArgument', true],
    ['return', 5, 'tetragon.KprobeArgument'],
    ['ancestors', 13, 'bytes', true],
  ]);
  const r = T('Response', [
    ['process_exec', 1, 'Exec'],
    ['process_exit', 5, 'Exit'],
    ['process_kprobe', 9, 'Kprobe'],
    ['other10', 10, 'bytes'],
    ['other11', 11, 'bytes'],
    ['other12', 12, 'bytes'],
    ['other27', 27, 'bytes'],
    ['other28', 28, 'bytes'],
    ['other40000', 40000, 'bytes'],
    ['other40001', 40001, 'bytes'],
    ['node_name', 1000, 'string'],
    ['time', 1001, 'google.protobuf.Timestamp'],
  ]);
  r.add(
    new ProtoOneOf('event', [
      'process_exec',
      'process_exit',
      'process_kprobe',
      'other10',
      'other11',
      'other12',
      'other27',
      'other28',
      'other40000',
      'other40001',
    ]),
  );
  root.resolveAll();
  return [r, root.lookupType('peregrine_tetragon_lite.ProcessKey')];
}

/** Normalises a kprobe function name: `__x64_sys_openat` → `openat`. */
export function normaliseKprobe(fn: string): string {
  return fn.replace(SYSCALL_PREFIX, '');
}

/**
 * Maps Tetragon events (GetEventsResponse) to engine events with Falco's field names:
 * process_exec → execve, process_exit → procexit, process_kprobe → the syscall its function
 * stands for (file opens, tcp_connect, setuid family, ptrace, unlink, mount, modules, ...);
 * Tetragon's pod and container metadata → `k8s.*` and `container.*`.
 */
export class TetragonDecoder {
  private readonly flat: FlatEventDecoder;
  private readonly type: protobuf.Type;
  private n = 0;
  /**
   * Process, lineage and pod fields by exec ids, already normalised as [slot, value] pairs:
   * Tetragon repeats them on every event of a process, so they are mapped once. Bounded.
   */
  private readonly procCache = new Map<string, Array<[number, FieldValue]>>();

  private readonly lite: protobuf.Type;
  private readonly processKey: protobuf.Type;
  private readonly processType: protobuf.Type;

  constructor(
    private readonly table: FieldKeyTable,
    root: protobuf.Root,
  ) {
    this.flat = new FlatEventDecoder(table);
    this.type = root.lookupType('tetragon.GetEventsResponse');
    this.processType = root.lookupType('tetragon.Process');
    [this.lite, this.processKey] = liteTypes(root);
  }

  /**
   * Decodes one serialized GetEventsResponse; throws on malformed protobuf.
   * Hot path: the message is first read with "lite" types that keep the process, parent and
   * ancestors as raw bytes; those are decoded only when the process is not cached yet.
   */
  decode(buf: Buffer): TetragonDecoded {
    const m = this.lite.decode(buf) as unknown as Msg;
    const kind = m.event as string | undefined;
    if (kind !== 'process_exec' && kind !== 'process_exit' && kind !== 'process_kprobe') {
      return this.map(this.type.decode(buf));
    }
    const body = m[kind] as Msg;
    const key = this.cacheKey(body);
    const cached = key !== undefined ? this.procCache.get(key) : undefined;
    if (!cached) {
      // expand the raw sub-messages with the full Process type, then map as usual
      const full: Msg = { ...body };
      full.process = body.process ? this.processType.decode(body.process as Uint8Array) : undefined;
      full.parent = body.parent ? this.processType.decode(body.parent as Uint8Array) : undefined;
      full.ancestors = ((body.ancestors as Uint8Array[] | undefined) ?? []).map((b) => this.processType.decode(b));
      return this.map({ [kind]: full, event: kind, time: m.time, node_name: m.node_name }, key);
    }
    return this.map({ [kind]: body, event: kind, time: m.time, node_name: m.node_name }, key, cached);
  }

  /** The cache key of an event's process part, from the raw process/parent bytes. */
  private cacheKey(body: Msg): string | undefined {
    const raw = body.process as Uint8Array | undefined;
    if (!raw || raw.length === 0) return undefined;
    const p = this.processKey.decode(raw) as unknown as Msg;
    if (!p.exec_id) return undefined;
    const parent = body.parent as Uint8Array | undefined;
    const pp = parent && parent.length ? (this.processKey.decode(parent) as unknown as Msg) : undefined;
    const uid = p.uid as Uint8Array | undefined;
    const user = p.user as Uint8Array | undefined;
    // exec ids are unique per exec in Tetragon; binary, arguments and credentials guard against
    // reuse and against credentials changing within a process.
    return `${text(p.exec_id)}|${text(p.binary)}|${text(p.arguments)}|${uid ? Buffer.from(uid).toString('hex') : ''}|${user ? Buffer.from(user).toString('hex') : ''}|${text(pp?.exec_id)}|${((body.ancestors as unknown[] | undefined) ?? []).length}`;
  }

  /** Maps an already-decoded message (protobufjs message or plain object). */
  map(m: Msg, cacheKey?: string, cached?: Array<[number, FieldValue]>): TetragonDecoded {
    const kind =
      text(m.event) ||
      (Object.keys(m).find((k) => k.startsWith('process_') || k === 'rate_limit_info' || k === 'test') ?? 'unknown');
    const body = m[kind] as Msg | undefined;
    if (kind === 'rate_limit_info') return { lost: NUM(body?.number_of_dropped_process_events) ?? 0, kind };
    if (!body) return { lost: 0, kind };
    const f: Record<string, unknown> = {};
    const time = m.time as Msg | undefined;
    if (time) {
      // seconds*1e9 exceeds 2^53: compose in bigint only once per event
      const secs = time.seconds as LongLike;
      f['evt.time'] =
        BigInt(typeof secs === 'number' ? secs : secs.toNumber()) * 1_000_000_000n + BigInt((time.nanos as number) | 0);
    }
    if (m.node_name) f['evt.hostname'] = m.node_name;
    const pairs = cached ?? this.processPairs(body, cacheKey);
    let type: string;
    if (kind === 'process_exec') type = 'execve';
    else if (kind === 'process_exit') {
      type = 'procexit';
      if (body.signal) f['evt.arg.sig'] = body.signal;
      f['evt.arg.status'] = String(NUM(body.status) ?? 0);
    } else if (kind === 'process_kprobe') {
      const fn = normaliseKprobe(text(body.function_name));
      const mapped = TETRAGON_KPROBE_TYPES[fn];
      if (!mapped) return { lost: 0, kind: `kprobe:${fn}` };
      type = mapped;
      this.kprobe(f, fn, (body.args as Msg[] | undefined) ?? [], body.return as Msg | undefined);
    } else return { lost: 0, kind };
    f['evt.type'] = type;
    f['evt.source'] = 'syscall';
    const lineNo = ++this.n;
    const v = this.flat.newSlots();
    for (let i = 0; i < pairs.length; i++) v[pairs[i][0]] = pairs[i][1];
    const keys = Object.keys(f);
    for (let i = 0; i < keys.length; i++) this.flat.setField(v, keys[i], f[keys[i]], lineNo);
    return { event: this.flat.complete(v, lineNo), lost: 0, kind };
  }

  /** The process/lineage/pod part of an event, mapped once per (process, parent, ancestry). */
  private processPairs(body: Msg, key: string | undefined): Array<[number, FieldValue]> {
    const p = body.process as Msg | undefined;
    const parent = body.parent as Msg | undefined;
    const ancestors = (body.ancestors as Msg[] | undefined) ?? [];
    const f: Record<string, unknown> = {};
    this.process(f, p);
    this.lineage(f, parent, ancestors);
    const v = this.flat.newSlots();
    const pairs: Array<[number, FieldValue]> = [];
    for (const k in f) {
      if (this.flat.setField(v, k, f[k], 0)) {
        const slot = this.table.idOf(k);
        pairs.push([slot, v[slot] as FieldValue]);
      }
    }
    if (key !== undefined) {
      if (this.procCache.size >= 8192) this.procCache.clear();
      this.procCache.set(key, pairs);
    }
    return pairs;
  }

  private process(f: Record<string, unknown>, p: Msg | undefined): void {
    if (!p) return;
    const binary = text(p.binary);
    const args = text(p.arguments);
    const name = binary.slice(binary.lastIndexOf('/') + 1);
    if (binary) {
      f['proc.exepath'] = binary;
      f['proc.exe'] = binary;
      f['proc.name'] = name;
      f['proc.cmdline'] = args ? `${name} ${args}` : name;
    }
    f['proc.args'] = args;
    if (p.cwd) f['proc.cwd'] = p.cwd;
    const pid = NUM(p.pid);
    if (pid !== undefined) f['proc.pid'] = pid;
    const tid = NUM(p.tid);
    f['thread.tid'] = tid ?? pid;
    const uid = NUM(p.uid);
    if (uid !== undefined) f['user.uid'] = uid;
    const user = (p.user as Msg | undefined)?.name;
    if (user) f['user.name'] = user;
    const cap = p.cap as Msg | undefined;
    if (cap) {
      const eff = capText(cap.effective);
      const perm = capText(cap.permitted);
      const inh = capText(cap.inheritable);
      if (eff !== undefined) f['thread.cap_effective'] = eff;
      if (perm !== undefined) f['thread.cap_permitted'] = perm;
      if (inh !== undefined) f['thread.cap_inheritable'] = inh;
    }
    const auid = NUM(p.auid);
    if (auid !== undefined) f['user.loginuid'] = auid === 4294967295 ? -1 : auid;
    const pod = p.pod as Msg | undefined;
    const docker = text(p.docker);
    const container = pod?.container as Msg | undefined;
    const cid = text(container?.id).replace(/^[a-z0-9-]+:\/\//, '') || docker;
    const image = (container?.image as Msg | undefined)?.name as string | undefined;
    const ref = image ? parseImageRef(image) : undefined;
    const labels = pod?.pod_labels as Record<string, string> | undefined;
    const meta: ContainerMeta = {
      id: cid,
      name: text(container?.name) || undefined,
      image,
      imageRepository: ref?.repository,
      imageTag: ref?.tag,
      imageDigest: ref?.digest,
      podName: text(pod?.name) || undefined,
      podNamespace: text(pod?.namespace) || undefined,
      podUid: text(pod?.uid) || undefined,
      podLabels: labels && Object.keys(labels).length ? labels : undefined,
      workloadName: text(pod?.workload) || undefined,
      workloadKind: text(pod?.workload_kind) || undefined,
    };
    // the same fields, by the same rules, as the enrich stage writes from the container runtime
    for (const [k, v] of containerFieldEntries(meta)) f[k] = v;
    if (!cid) {
      f['container.id'] = 'host';
      delete f['container.full_id'];
    }
  }

  private lineage(f: Record<string, unknown>, parent: Msg | undefined, ancestors: readonly Msg[]): void {
    const chain = parent ? [parent, ...ancestors] : [...ancestors];
    chain.slice(0, 16).forEach((a, i) => {
      const binary = text(a.binary);
      const name = binary.slice(binary.lastIndexOf('/') + 1);
      const args = text(a.arguments);
      const lvl = i + 1;
      if (binary) {
        f[`proc.aname[${lvl}]`] = name;
        f[`proc.aexepath[${lvl}]`] = binary;
        f[`proc.aexe[${lvl}]`] = binary;
        f[`proc.acmdline[${lvl}]`] = args ? `${name} ${args}` : name;
      }
      const pid = NUM(a.pid);
      if (pid !== undefined) f[`proc.apid[${lvl}]`] = pid;
    });
  }

  private kprobe(f: Record<string, unknown>, fn: string, args: readonly Msg[], ret: Msg | undefined): void {
    const rv = argValue(ret);
    const r =
      typeof rv === 'number' || (rv !== null && typeof rv === 'object' && 'toNumber' in rv) ? NUM(rv) : undefined;
    f['evt.rawres'] = r ?? 0;
    const ints: number[] = [];
    let file: Msg | undefined;
    let sock: Msg | undefined;
    let str: string | undefined;
    for (const a of args) {
      const k = argKind(a);
      const v = argValue(a);
      if (k === 'int_arg' || k === 'long_arg' || k === 'size_arg') ints.push(NUM(v) ?? 0);
      else if ((k === 'file_arg' || k === 'path_arg') && !file) file = v as Msg;
      else if (k === 'sock_arg' && !sock) sock = v as Msg;
      else if (k === 'string_arg' && str === undefined) str = String(v);
    }
    if (file) {
      const path = text(file.path);
      f['fd.name'] = path;
      f['fd.typechar'] = 'f';
      f['fs.path.name'] = path;
      // security_file_permission's mask: MAY_WRITE=2, MAY_READ=4; fd_install's first arg is the fd
      const mask = fn === 'security_file_permission' ? ints[0] : undefined;
      const perm = text(file.permission);
      const write =
        mask !== undefined ? (mask & 2) !== 0 : perm.includes('w') || /O_WRONLY|O_RDWR/.test(text(file.flags));
      f['evt.arg.flags'] = text(file.flags) || (write ? 'O_WRONLY' : 'O_RDONLY');
      f['fd.num'] = fn === 'fd_install' && ints.length ? ints[0] : r !== undefined && r >= 0 && /open/.test(fn) ? r : 0;
      if (['unlinkat', 'unlink', 'security_path_unlink', 'rmdir'].includes(fn)) f['evt.arg.name'] = path;
      if (['mkdir', 'mkdirat', 'chmod', 'fchmodat', 'fchmod'].includes(fn)) f['evt.arg.path'] = path;
    } else if (str !== undefined && /open|unlink|mkdir|rmdir|chmod|mount|rename|link/.test(fn)) {
      f['fd.name'] = str;
      f['fs.path.name'] = str;
      f['evt.arg.name'] = str;
      f['evt.arg.path'] = str;
      if (fn === 'mount') f['evt.arg.dir'] = text(argValue(args[1]));
    }
    if (sock) {
      const family = text(sock.family);
      const v6 = family.includes('INET6');
      const saddr = text(sock.saddr);
      const daddr = text(sock.daddr);
      const accept = fn === 'inet_csk_accept' || fn.startsWith('accept');
      const [cip, cport, sip, sport] = accept
        ? [daddr, NUM(sock.dport), saddr, NUM(sock.sport)]
        : [saddr, NUM(sock.sport), daddr, NUM(sock.dport)];
      Object.assign(f, {
        'fd.type': v6 ? 'ipv6' : 'ipv4',
        'fd.typechar': v6 ? '6' : '4',
        'fd.sockfamily': 'ip',
        'fd.l4proto':
          text(sock.protocol)
            .replace(/^IPPROTO_/, '')
            .toLowerCase() || 'tcp',
        'fd.cip': cip,
        'fd.sip': sip,
        'fd.cport': cport,
        'fd.sport': sport,
        'fd.is_server': accept,
        'fd.lip': accept ? sip : cip,
        'fd.rip': accept ? cip : sip,
        'fd.lport': accept ? sport : cport,
        'fd.rport': accept ? cport : sport,
        'fd.name': `${cip}:${cport}->${sip}:${sport}`,
        'fd.connected': true,
        'fd.num': 0,
      });
    }
    if (/^set(res|re)?[ug]id$/.test(fn) && ints.length)
      f[fn.includes('g') ? 'evt.arg.gid' : 'evt.arg.uid'] = String(ints[0]);
    if (fn === 'ptrace') {
      if (ints.length) f['evt.arg.request'] = PTRACE[ints[0]] ?? String(ints[0]);
      if (ints.length > 1) f['evt.arg.pid'] = String(ints[1]);
    }
    if (fn === 'dup2' || fn === 'dup3' || fn === 'dup') f['evt.rawres'] = r ?? ints[1] ?? 0;
  }
}
