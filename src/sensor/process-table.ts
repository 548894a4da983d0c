import { readFileSync, readlinkSync } from 'node:fs';
import { procStat } from '../event/index.js';
import type { SensorAncestor } from './batch-encoder.js';

/** What user space knows about a process (from /proc, read once per exec). */
export interface ProcInfo {
  exepath: string;
  /** argv[0] */
  exe: string;
  /** arguments after argv[0], joined by spaces */
  args: string;
  cwd: string;
  containerId: string;
  startNs?: bigint;
  /** The executable is an anonymous memory file (memfd_create). */
  memfd?: boolean;
  /** Process name (comm) as the kernel last reported it. */
  comm?: string;
  /** Parent pid as the kernel last reported it (or /proc said): ancestors beyond the kernel's five. */
  ppid?: number;
  /** Environment at exec (entries joined by spaces), when the sensor read it. */
  env?: string;
  /** What the sensor cut at exec: 1 = arguments, 2 = environment. */
  truncated?: number;
  /** This process as an ancestor of others (reused while its name and executable stay). */
  view?: SensorAncestor;
  /** Its ancestors as last reported (reused while unchanged): with the raw words and table generation they came from. */
  ancestors?: readonly SensorAncestor[];
  ancestorWords?: Uint32Array;
  ancestorGeneration?: number;
  /** Session leader's name, for the session id it was looked up for. */
  sname?: { readonly sid: number; readonly name: string | undefined };
  /** What the kernel last said of it (reused while the bytes are the same). */
  kernel?: KernelFacts;
}

/** Facts the kernel reports with every event of a process that rarely change. */
export interface KernelFacts {
  /** The raw words they were decoded from. */
  readonly words: Uint32Array;
  readonly capEffective: bigint;
  readonly capPermitted: bigint;
  readonly capInheritable: bigint;
  readonly exeIno?: number;
  readonly exeCtimeNs?: bigint;
  readonly exeMtimeNs?: bigint;
  readonly startNs: bigint;
}

/**
 * Container id (12 hex characters) in a cgroup path: containerd, CRI-O, Docker and podman
 * formats, systemd (`….scope`) and cgroupfs (`/kubepods/…/pod<uid>/<id>`) drivers; else `host`.
 * CRI-O's and podman's `conmon` monitors run on the host beside the container: `host`.
 */
export function containerIdFromCgroup(path: string): string {
  const m =
    /(crio-conmon-|libpod-conmon-)?(?:cri-containerd-|crio-|docker-|containerd-|libpod-)?([0-9a-f]{64})(?:\.scope)?/.exec(
      path,
    );
  return m && !m[1] ? m[2].slice(0, 12) : 'host';
}

/**
 * Process metadata by pid, read from /proc when a process execs (or is first seen) and dropped
 * when it exits. Bounded (oldest forgotten); reads never throw (a process may be gone already).
 */
export class ProcessTable {
  private readonly procs = new Map<number, ProcInfo>();

  constructor(
    private readonly capacity = 65_536,
    private readonly procRoot = '/proc',
  ) {}

  get size(): number {
    return this.procs.size;
  }

  /**
   * Info for `pid`, read from /proc on first sight. When the process is already gone, what a
   * child inherits from its parent (`ppid`) fills the gaps (cwd, container, and exe until exec).
   */
  get(pid: number, ppid?: number): ProcInfo {
    let p = this.procs.get(pid);
    if (!p) {
      const parent = ppid !== undefined ? this.procs.get(ppid) : undefined;
      if (parent) {
        // a fork: the child runs its parent's program in its parent's cwd and container until it execs
        p = {
          exepath: parent.exepath,
          exe: parent.exe,
          args: parent.args,
          cwd: parent.cwd,
          containerId: parent.containerId,
          memfd: parent.memfd,
          env: parent.env,
          truncated: parent.truncated,
          comm: parent.comm,
          ppid,
        };
      } else p = this.readInfo(pid);
      this.put(pid, p);
    }
    return p;
  }

  /** A process seen for the first time without a known parent: all of it from /proc. */
  private readInfo(pid: number): ProcInfo {
    const { cgroupRead: _, ...read } = this.read(pid);
    return read;
  }

  /** What is known of `pid`, without reading /proc. */
  peek(pid: number): ProcInfo | undefined {
    return this.procs.get(pid);
  }

  /** Records a successful chdir/fchdir. */
  chdir(pid: number, cwd: string): void {
    const p = this.procs.get(pid);
    if (p && cwd) p.cwd = cwd;
  }

  /**
   * A successful exec, with what the kernel read at that moment: the path as resolved, the
   * cgroup names, argv and the executable's file name. Only the executable's real path (symlinks
   * resolved) comes from /proc (one readlink); the cwd stays (exec keeps it), and when /proc is
   * already gone (a short-lived process) the path as exec'd stands.
   */
  exec(
    pid: number,
    path: string,
    cgroupPath?: string,
    argv?: readonly string[],
    exeName?: string,
    ppid?: number,
  ): ProcInfo {
    const before = this.procs.get(pid) ?? (ppid !== undefined ? this.procs.get(ppid) : undefined);
    let exepath = path;
    try {
      exepath = readlinkSync(`${this.procRoot}/${pid}/exe`);
    } catch {
      /* gone: the path as exec'd */
    }
    const p: ProcInfo = {
      exepath,
      exe: argv?.[0] ?? path,
      args: argv ? argv.slice(1).join(' ') : '',
      cwd: before?.cwd ?? this.cwdOf(pid),
      containerId: before?.containerId ?? 'host',
      ppid,
    };
    if (exeName?.startsWith('memfd:')) {
      // the kernel's name for the executable's file: a memfd, whatever path was exec'd
      p.memfd = true;
      if (!p.exepath.startsWith('/memfd:')) p.exepath = `/${exeName} (deleted)`;
    }
    // the cgroup's leaf names (unified, then cpu) name the container in every runtime's format;
    // a leaf without an id (a sub-cgroup the container made) keeps the container it inherited
    if (cgroupPath !== undefined) {
      const id = containerIdFromCgroup(cgroupPath);
      if (id !== 'host' || !before) p.containerId = id;
    }
    this.put(pid, p);
    return p;
  }

  private cwdOf(pid: number): string {
    try {
      return readlinkSync(`${this.procRoot}/${pid}/cwd`);
    } catch {
      return '';
    }
  }

  exit(pid: number): void {
    this.generation++;
    this.procs.delete(pid);
  }

  /** The cwd now (for relative paths): tracked from exec, inheritance and chdir; /proc as a fallback. */
  cwd(pid: number, ppid?: number): string {
    const known = this.get(pid, ppid).cwd;
    if (known) return known;
    try {
      return readlinkSync(`${this.procRoot}/${pid}/cwd`);
    } catch {
      return '';
    }
  }

  /** The path of descriptor `fd` of `pid`, when it still exists. */
  fdPath(pid: number, fd: number): string | undefined {
    try {
      return readlinkSync(`${this.procRoot}/${pid}/fd/${fd}`);
    } catch {
      return undefined;
    }
  }

  /** Changes whenever a process is replaced (exec, first sight) or forgotten: cached views check it. */
  generation = 0;

  private put(pid: number, p: ProcInfo): void {
    this.generation++;
    if (this.procs.size >= this.capacity && !this.procs.has(pid))
      this.procs.delete(this.procs.keys().next().value as number);
    this.procs.set(pid, p);
  }

  private read(pid: number, execPath?: string): ProcInfo & { cgroupRead: boolean } {
    const base = `${this.procRoot}/${pid}`;
    let argv: string[] = [];
    try {
      argv = readFileSync(`${base}/cmdline`, 'utf8').split('\0');
      if (argv[argv.length - 1] === '') argv.pop();
    } catch {
      /* gone */
    }
    let exepath = execPath ?? '';
    try {
      exepath = readlinkSync(`${base}/exe`);
    } catch {
      /* gone, or a kernel thread */
    }
    let cwd = '';
    try {
      cwd = readlinkSync(`${base}/cwd`);
    } catch {
      /* gone */
    }
    let containerId = 'host';
    let cgroupRead = false;
    try {
      containerId = containerIdFromCgroup(readFileSync(`${base}/cgroup`, 'utf8'));
      cgroupRead = true;
    } catch {
      /* gone */
    }
    let comm: string | undefined;
    try {
      comm = readFileSync(`${base}/comm`, 'utf8').trimEnd();
    } catch {
      /* gone */
    }
    const stat = procStat(pid, this.procRoot);
    return {
      startNs: stat?.startNs,
      exepath,
      exe: argv[0] ?? execPath ?? '',
      args: argv.slice(1).join(' '),
      cwd,
      containerId,
      comm,
      ppid: stat?.ppid,
      cgroupRead,
    };
  }
}
