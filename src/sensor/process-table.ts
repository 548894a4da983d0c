import { readFileSync, readlinkSync } from 'node:fs';
import { processStartNs } from '../event/index.js';

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
      const { cgroupRead, ...read } = this.read(pid);
      p = read;
      const parent = ppid !== undefined ? this.procs.get(ppid) : undefined;
      if (parent) {
        if (!p.cwd) p.cwd = parent.cwd;
        if (!p.exepath) {
          p.exepath = parent.exepath;
          p.exe = parent.exe;
          p.args = parent.args;
          p.memfd = parent.memfd;
        }
        if (!cgroupRead) p.containerId = parent.containerId;
      }
      this.put(pid, p);
    }
    return p;
  }

  /** Records a successful chdir/fchdir. */
  chdir(pid: number, cwd: string): void {
    const p = this.procs.get(pid);
    if (p && cwd) p.cwd = cwd;
  }

  /** Re-reads a process after an exec (the exec's path and cgroup help when /proc is gone). */
  exec(
    pid: number,
    path: string,
    cgroupPath?: string,
    argv?: readonly string[],
    exeName?: string,
    ppid?: number,
  ): ProcInfo {
    const before = this.procs.get(pid) ?? (ppid !== undefined ? this.procs.get(ppid) : undefined);
    const { cgroupRead, ...p } = this.read(pid, path);
    if (!p.cwd && before) p.cwd = before.cwd; // exec keeps the cwd
    // a short-lived process may be gone before /proc is read: it was in its parent's (or its own former) container
    if (!cgroupRead && before) p.containerId = before.containerId;
    if (exeName?.startsWith('memfd:')) {
      // the kernel's name for the executable's file: a memfd, whatever path was exec'd
      p.memfd = true;
      if (!p.exepath.startsWith('/memfd:')) p.exepath = `/${exeName} (deleted)`;
    }
    // the kernel's cgroup path (the unified hierarchy) names the container where cgroup v2 is
    // mounted; on a cgroup v1 host it is "/": keep what /proc/PID/cgroup said then
    if (cgroupPath) {
      const id = containerIdFromCgroup(cgroupPath);
      if (id !== 'host') p.containerId = id;
    }
    if (argv?.length) {
      // argv read in the kernel at exec time: exact even when the process is already gone
      p.exe = argv[0];
      p.args = argv.slice(1).join(' ');
    }
    if (!p.exepath) p.exepath = path;
    this.put(pid, p);
    return p;
  }

  exit(pid: number): void {
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

  private put(pid: number, p: ProcInfo): void {
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
    return {
      startNs: processStartNs(pid, this.procRoot),
      exepath,
      exe: argv[0] ?? execPath ?? '',
      args: argv.slice(1).join(' '),
      cwd,
      containerId,
      comm,
      cgroupRead,
    };
  }
}
