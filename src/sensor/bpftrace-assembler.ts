import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SensorAncestor, SensorEvent, SensorFd } from './batch-encoder.js';
import { argLayout } from './bpftrace-program.js';
import { ProcessTable } from './process-table.js';
import { octalMode, openFlags, ptraceRequest, socketDomain } from './syscall-args.js';
import { errorMessage } from '../event/index.js';

interface Pending {
  p: string[];
  a?: string[];
  b: string[];
  s: string[][];
  c?: string;
  /** The executable's dentry name (execs). */
  e?: string;
  /** The address a send/receive names: [ip, port]. */
  n?: [string, number];
  at: number;
}

/** Counters of the assembler. */
export interface AssemblerStats {
  lines: number;
  events: number;
  /** Lines or events that could not be understood (skipped, counted). */
  parseErrors: number;
}

/** A record line: one tag letter and a tab (anything else continues an argv line). */
const RECORD = /^[PQABSCEXJN]\t|^READY|^Attaching|^Lost /;
const FALCO_TYPE: Readonly<Record<string, string>> = { umount: 'umount2' };
const OPENS = new Set(['open', 'openat', 'openat2', 'creat']);

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

/**
 * Joins the bpftrace program's records (see bpftrace-program.ts) into sensor events: the caller
 * and its ancestors as read in the kernel, arguments rendered as Falco prints them, paths made
 * absolute (against the cwd or the dirfd, as Falco does), sockets described, and process
 * metadata (exe path, arguments, cwd, container) from /proc, read once per exec.
 */
export class BpftraceAssembler {
  readonly stats: AssemblerStats = { lines: 0, events: 0, parseErrors: 0 };
  /** The last few lines that could not be parsed (for logs). */
  readonly badLines: string[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Path and argv captured at exec entry, by tid, until the exec's exit event (bounded). */
  private readonly argv = new Map<number, { path: string; argv: string[] }>();
  /**
   * Execs whose argv line has not come yet (a J record precedes each, oldest first). bpftrace
   * drains its per-CPU buffers in turn, so other CPUs' records may come between a J record and
   * its argv line; the argv line is the next line that is not a record.
   */
  private readonly argvFor: Array<{ tid: number; path: string }> = [];
  /** The exec whose argv was read last: unknown lines continue it (arguments with newlines). */
  private argvLast: number | undefined;
  private readonly users = names('/etc/passwd');
  private readonly groups = names('/etc/group');

  constructor(
    /** Nanoseconds to add to the kernel's monotonic clock to get wall-clock time. */
    private readonly clockOffsetNs: bigint,
    readonly procs: ProcessTable = new ProcessTable(),
  ) {}

  /** Feeds one line; returns the events it completed. */
  line(text: string, out: SensorEvent[]): void {
    this.stats.lines++;
    const isRecord = RECORD.test(text);
    const next = isRecord ? undefined : this.argvFor.shift();
    if (next) {
      if (this.argv.size >= 4096) this.argv.delete(this.argv.keys().next().value as number);
      this.argv.set(next.tid, { path: next.path, argv: text.split('\x1f') });
      this.argvLast = next.tid;
      return;
    }
    if (!isRecord) {
      const last = this.argvLast !== undefined ? this.argv.get(this.argvLast) : undefined;
      if (last && text !== '') {
        // an argument containing newlines: join() printed it over several lines
        const parts = text.split('\x1f');
        last.argv[last.argv.length - 1] += `\n${parts[0]}`;
        last.argv.push(...parts.slice(1));
        return;
      }
    }
    const f = text.split('\t');
    const tid = Number(f[1]);
    // the exec's own next record ends its argv (other CPUs' records may come in between)
    if (tid === this.argvLast) this.argvLast = undefined;
    switch (f[0]) {
      case 'Q':
      case 'P': {
        if (f.length < (f[0] === 'P' ? 23 : 18) || !Number.isFinite(tid)) return this.bad(text);
        this.complete(tid, out);
        this.pending.set(tid, { p: f, b: [], s: [], at: Date.now() });
        return;
      }
      case 'A':
      case 'B':
      case 'S':
      case 'N':
      case 'E':
      case 'C': {
        const p = this.pending.get(tid);
        if (!p) return this.bad(text);
        if (f[0] === 'A') p.a = f;
        else if (f[0] === 'B') p.b.push(f.slice(2).join('\t'));
        else if (f[0] === 'S') p.s.push(f);
        else if (f[0] === 'E') p.e = f.slice(2).join('\t');
        else if (f[0] === 'N') p.n = [f[3], Number(f[4])];
        else p.c = f.slice(2).join('\t');
        return;
      }
      case 'X': {
        this.complete(tid, out);
        const pid = Number(f[3]);
        const ev = this.exitEvent(f);
        if (ev) out.push(ev);
        this.procs.exit(pid);
        return;
      }
      case 'J':
        if (this.argvFor.length >= 64) this.argvFor.shift();
        this.argvFor.push({ tid, path: f.slice(2).join('\t') });
        this.argvLast = undefined;
        return;
      case 'READY':
      case '':
        return;
      default:
        if (text.startsWith('Attaching') || text.startsWith('READY')) return;
        this.bad(text);
    }
  }

  private bad(text: string): void {
    this.stats.parseErrors++;
    this.badLines.push(text.slice(0, 300));
    if (this.badLines.length > 5) this.badLines.shift();
  }

  /** Completes events whose records stopped arriving `ageMs` ago (all with 0). */
  flush(out: SensorEvent[], ageMs = 0): void {
    const limit = Date.now() - ageMs;
    for (const [tid, p] of this.pending) if (p.at <= limit) this.complete(tid, out);
  }

  private complete(tid: number, out: SensorEvent[]): void {
    const p = this.pending.get(tid);
    if (!p) return;
    this.pending.delete(tid);
    try {
      const ev = this.toEvent(p);
      if (ev) {
        this.stats.events++;
        out.push(ev);
      }
    } catch (err) {
      this.bad(`${errorMessage(err)}: ${p.p.join(' ')}`);
    }
  }

  private exitEvent(f: string[]): SensorEvent | undefined {
    const pid = Number(f[3]);
    if (!Number.isFinite(pid)) {
      this.stats.parseErrors++;
      return undefined;
    }
    const info = this.procs.get(pid);
    this.stats.events++;
    return {
      tsNs: this.clockOffsetNs + BigInt(f[2]),
      type: 'procexit',
      res: 0,
      tid: Number(f[1]),
      pid,
      name: f[5] ?? '',
      exepath: info.exepath,
      exe: info.exe,
      args: info.args,
      cwd: info.cwd,
      containerId: info.containerId,
      procStartNs: info.startNs,
      params: { status: f[4] ?? '0' },
    };
  }

  private toEvent(p: Pending): SensorEvent | undefined {
    const P = p.p;
    const sc = P[3];
    const a = p.a;
    if (!a || a[2] !== sc) throw new Error(`event ${sc} without its arguments`);
    const layout = argLayout(sc);
    if (!layout) throw new Error(`unknown syscall ${sc}`);
    const raw: Record<string, string> = {};
    layout.a.forEach((n, i) => (raw[n] = a[3 + i] ?? ''));
    if (layout.a.length && a.length > 3 + layout.a.length)
      raw[layout.a[layout.a.length - 1]] = a.slice(2 + layout.a.length).join('\t');
    layout.b.forEach((n, i) => (raw[n] = p.b[i] ?? ''));
    const ret = Number(P[4]);
    const pid = Number(P[5]);
    const ppid = Number(P[13]) > 0 ? Number(P[13]) : undefined;
    const uid = Number(P[6]);
    const gid = Number(P[7]);
    const tidNum = Number(P[1]);
    const entry = sc.startsWith('execve') ? this.argv.get(tidNum) : undefined;
    if (entry) {
      // a failed attempt (execvp trying PATH entries) leaves it for the next J record to replace
      if (ret === 0) this.argv.delete(tidNum);
      raw.path = entry.path;
    }
    this.procs.get(pid, ppid); // known (or inherited from the parent) before paths are resolved
    const info =
      sc.startsWith('execve') && ret === 0
        ? this.procs.exec(pid, this.resolvePath(pid, raw.path ?? '', raw.dirfd), p.c, entry?.argv, p.e, ppid)
        : this.procs.get(pid, ppid);
    info.comm = P[12]; // children name this process by it
    if ((sc === 'chdir' || sc === 'fchdir') && ret === 0) {
      const to = sc === 'chdir' ? this.resolvePath(pid, raw.path ?? '') : this.procs.fdPath(pid, Number(raw.fd));
      if (to) this.procs.chdir(pid, to);
    }
    const ancestors: SensorAncestor[] = [];
    const full = P[0] === 'P';
    for (let i = 0; i < 5; i++) {
      const apid = Number(P[full ? 13 + 2 * i : 13 + i]);
      if (!(apid > 0)) break;
      const ai = this.procs.get(apid);
      // names read in the kernel (execs), else the process table's
      const name = full ? P[14 + 2 * i] : (ai.comm ?? ai.exepath.slice(ai.exepath.lastIndexOf('/') + 1));
      if (full) ai.comm = name;
      ancestors.push({
        name,
        pid: apid,
        exe: ai.exe,
        exepath: ai.exepath,
        cmdline: ai.args ? `${name} ${ai.args}` : name,
      });
    }
    const major = Number(P[10]);
    const minor = Number(P[11]);
    const tty = major > 0 ? (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12) : 0;
    const loginuid = Number(P[8]);
    const { params, fd } = this.mapArgs(sc, pid, ret, raw, p.s, p.n);
    return {
      tsNs: this.clockOffsetNs + BigInt(P[2]),
      type: FALCO_TYPE[sc] ?? sc,
      res: ret,
      tid: Number(P[1]),
      pid,
      ppid: ancestors[0]?.pid,
      sid: Number(P[9]) >= 0 ? Number(P[9]) : undefined,
      name: P[12],
      exe: info.exe,
      exepath: info.exepath,
      args: info.args,
      cwd: info.cwd,
      tty,
      uid,
      gid,
      loginuid: loginuid >= 2 ** 31 - 1 || loginuid < 0 ? -1 : loginuid,
      user: this.users.get(uid),
      group: this.groups.get(gid),
      exeFlags: info.memfd || info.exepath.startsWith('/memfd:') ? 2 : 0,
      ancestors,
      fd,
      params,
      containerId: info.containerId,
      procStartNs: info.startNs,
    };
  }

  /** Absolute path of `path` for `pid`, relative to its cwd or to `dirfd` (-100 = AT_FDCWD). */
  private resolvePath(pid: number, path: string, dirfd?: string): string {
    if (!path || isAbsolute(path)) return path;
    const dfd = dirfd === undefined ? -100 : Number(dirfd);
    const base =
      dfd === -100 || !Number.isFinite(dfd)
        ? this.procs.cwd(pid)
        : (this.procs.fdPath(pid, dfd) ?? this.procs.cwd(pid));
    return base ? resolve(base, path) : path;
  }

  /**
   * Falco's `evt.arg.*` for one call, from its raw arguments (table-driven: {@link ARG_MAPPERS}),
   * and the descriptor it acts on (a file, or a socket with both ends).
   */
  private mapArgs(
    sc: string,
    pid: number,
    ret: number,
    raw: Record<string, string>,
    sock: string[][],
    named?: [string, number],
  ): { params: Record<string, string>; fd?: SensorFd } {
    const params: Record<string, string> = {};
    const path = (k = 'path', dir = 'dirfd'): string => this.resolvePath(pid, raw[k] ?? '', raw[dir]);
    const mapper = OPENS.has(sc)
      ? mapOpen
      : (ARG_MAPPERS[sc] ?? (sc.startsWith('rename') ? ARG_MAPPERS.rename : undefined));
    if (mapper) mapper({ sc, raw, params, path });
    else for (const [k, v] of Object.entries(raw)) params[k] = v;
    for (const [k, v] of Object.entries(raw)) if (params[k] === undefined && !RESOLVED_ARGS.has(k)) params[k] = v;
    let fd: SensorFd | undefined = OPENS.has(sc)
      ? { num: ret >= 0 ? ret : -1, type: 'file', name: params.name }
      : undefined;
    const s = sock[0];
    if (s) fd = socketFd(sc, ret, raw, s, params);
    if (named) fd = namedAddressFd(sc, raw, s, named, params);
    return { params, fd };
  }
}

/** What an argument mapper gets: the call, its raw arguments, the params to fill, and path resolution. */
interface ArgContext {
  readonly sc: string;
  readonly raw: Readonly<Record<string, string>>;
  readonly params: Record<string, string>;
  /** The path argument `k`, resolved against directory fd argument `dir` (or the cwd). */
  readonly path: (k?: string, dir?: string) => string;
}

/** Raw arguments that mappers turn into resolved paths or other names (not copied as they are). */
const RESOLVED_ARGS: ReadonlySet<string> = new Set(['path', 'tpid', 'dirfd', 'newdirfd', 'olddirfd']);

const mapOpen = ({ sc, raw, params, path }: ArgContext): void => {
  params.name = path();
  if (raw.flags !== undefined) params.flags = openFlags(Number(raw.flags));
  else if (sc === 'creat') params.flags = 'O_WRONLY|O_CREAT|O_TRUNC';
  if (raw.mode !== undefined) params.mode = octalMode(Number(raw.mode));
  if (raw.dirfd !== undefined) params.dirfd = raw.dirfd === '-100' ? '-100(AT_FDCWD)' : raw.dirfd;
};
const mapExec = ({ params, path }: ArgContext): void => void (params.filename = path());
const mapLink = ({ params, path }: ArgContext): void => {
  params.oldpath = path('oldpath', 'olddirfd');
  params.newpath = path('newpath', 'newdirfd');
};
const mapSymlink = ({ raw, params, path }: ArgContext): void => {
  params.target = raw.target;
  params.linkpath = path('linkpath', 'newdirfd');
};
const mapRemove = ({ params, path }: ArgContext): void => {
  params.name = path();
  params.path = params.name;
};
const mapMkdir = ({ raw, params, path }: ArgContext): void => {
  params.path = path();
  params.mode = octalMode(Number(raw.mode));
};
const mapChmod = ({ raw, params, path }: ArgContext): void => {
  params.filename = path();
  params.mode = octalMode(Number(raw.mode));
};

/** Per syscall, how its raw arguments become Falco's `evt.arg.*` (opens: {@link mapOpen}); others are copied. */
const ARG_MAPPERS: Readonly<Record<string, (c: ArgContext) => void>> = {
  execve: mapExec,
  execveat: mapExec,
  ptrace: ({ raw, params }) => {
    params.request = ptraceRequest(Number(raw.request));
    params.pid = raw.tpid;
  },
  socket: ({ raw, params }) => {
    params.domain = socketDomain(Number(raw.domain));
    params.type = raw.type;
    params.proto = raw.proto;
  },
  symlink: mapSymlink,
  symlinkat: mapSymlink,
  link: mapLink,
  linkat: mapLink,
  rename: mapLink,
  unlink: mapRemove,
  unlinkat: mapRemove,
  rmdir: mapRemove,
  mkdir: mapMkdir,
  mkdirat: mapMkdir,
  chmod: mapChmod,
  fchmodat: mapChmod,
};

const l4Name = (proto: string | undefined, fallback: string): string =>
  proto === '6' ? 'tcp' : proto === '17' ? 'udp' : proto === '1' ? 'icmp' : fallback;

/** The socket an event acts on (an S record: family, local and remote ends, protocol). */
function socketFd(
  sc: string,
  ret: number,
  raw: Readonly<Record<string, string>>,
  s: string[],
  params: Record<string, string>,
): SensorFd {
  const v6 = s[2] === '6';
  const [lip, lport, rip, rport] = [s[3], Number(s[4]), s[5], Number(s[6])];
  const server = sc === 'accept' || sc === 'accept4' || sc === 'listen' || sc === 'bind';
  const [cip, cport, sip, sport] = server ? [rip, rport, lip, lport] : [lip, lport, rip, rport];
  const num = sc === 'accept' || sc === 'accept4' ? ret : Number(raw.fd ?? raw.oldfd ?? -1);
  const fd: SensorFd = {
    num,
    type: v6 ? 'ipv6' : 'ipv4',
    name: `${cip}:${cport}->${sip}:${sport}`,
    cip,
    sip,
    cport,
    sport,
    l4proto: l4Name(s[7], 'raw'),
    isServer: server,
  };
  if (sc === 'connect') params.tuple = fd.name!;
  return fd;
}

/** sendto/sendmsg/recvfrom/recvmsg naming an address: sends name the server, receives the peer (client). */
function namedAddressFd(
  sc: string,
  raw: Readonly<Record<string, string>>,
  s: string[] | undefined,
  named: [string, number],
  params: Record<string, string>,
): SensorFd {
  const recv = sc.startsWith('recv');
  const local = s ? { ip: s[3], port: Number(s[4]) } : { ip: '0.0.0.0', port: 0 };
  const l4 = s ? (s[7] === '17' ? 'udp' : s[7] === '6' ? 'tcp' : 'raw') : 'udp';
  const [cip, cport, sip, sport] = recv
    ? [named[0], named[1], local.ip, local.port]
    : [local.ip, local.port, named[0], named[1]];
  const fd: SensorFd = {
    num: Number(raw.fd ?? -1),
    type: 'ipv4',
    name: `${cip}:${cport}->${sip}:${sport}`,
    cip,
    sip,
    cport,
    sport,
    l4proto: l4,
    isServer: recv,
  };
  params.tuple = fd.name!;
  return fd;
}
