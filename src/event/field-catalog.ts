import type { FieldArgForm, FieldType } from './field-value.js';

/** One field of the syscall source, as Falco names it. */
export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly arg: FieldArgForm;
  readonly desc: string;
}

/** A parsed reference to a field, e.g. `proc.aname[2]` → name `proc.aname`, arg `2`. */
export interface FieldRef {
  readonly name: string;
  readonly arg?: string;
}

type Row = readonly [name: string, type: FieldType, arg: FieldArgForm, desc: string];

// prettier-ignore
const ROWS: readonly Row[] = [
  // evt.*
  ['evt.num', 'number', 'none', 'event number (replay: line number when absent)'],
  ['evt.time', 'abstime', 'none', 'event timestamp, ns since epoch'],
  ['evt.time.s', 'string', 'none', 'event time as HH:MM:SS'],
  ['evt.time.iso8601', 'abstime', 'none', 'event time, printed as ISO 8601'],
  ['evt.datetime', 'string', 'none', 'event date and time'],
  ['evt.rawtime', 'abstime', 'none', 'raw event timestamp, ns since epoch'],
  ['evt.reltime', 'reltime', 'none', 'time since capture start'],
  ['evt.type', 'string', 'none', 'event (syscall) type, e.g. open, execve'],
  ['evt.dir', 'string', 'none', 'event direction: > enter, < exit'],
  ['evt.cpu', 'number', 'none', 'CPU number'],
  ['evt.args', 'string', 'none', 'all event arguments as text'],
  ['evt.arg', 'string', 'key', 'one argument by name (evt.arg.NAME) or index (evt.arg[N])'],
  ['evt.rawarg', 'string', 'key', 'one argument by name, raw value (evt.rawarg.NAME)'],
  ['evt.res', 'string', 'none', 'result: SUCCESS or an errno name'],
  ['evt.rawres', 'number', 'none', 'result as a number'],
  ['evt.failed', 'bool', 'none', 'true when the call returned an error'],
  ['evt.truncated', 'string', 'none', 'Peregrine: what the sensor cut at its bounds (args, env, path), comma-separated'],
  ['evt.is_io', 'bool', 'none', 'true for I/O events'],
  ['evt.is_io_read', 'bool', 'none', 'true for read I/O events'],
  ['evt.is_io_write', 'bool', 'none', 'true for write I/O events'],
  ['evt.is_wait', 'bool', 'none', 'true for events that wait'],
  ['evt.is_syslog', 'bool', 'none', 'true for writes to syslog'],
  ['evt.is_open_read', 'bool', 'none', 'open with read access'],
  ['evt.is_open_write', 'bool', 'none', 'open with write access'],
  ['evt.is_open_exec', 'bool', 'none', 'open with exec intent or creating an executable file'],
  ['evt.is_open_create', 'bool', 'none', 'open that created the file (O_CREAT)'],
  ['evt.buffer', 'bytes', 'none', 'I/O buffer contents'],
  ['evt.buflen', 'number', 'none', 'I/O buffer length'],
  ['evt.category', 'string', 'none', 'event category'],
  ['evt.latency', 'reltime', 'none', 'time between enter and exit'],
  ['evt.hostname', 'string', 'none', 'host name of the node'],
  ['evt.source', 'string', 'none', 'event source (syscall)'],
  ['evt.count', 'number', 'none', 'always 1'],
  // proc.*
  ['proc.pid', 'number', 'none', 'process id'],
  ['proc.exe', 'string', 'none', 'first command-line argument (argv[0])'],
  ['proc.name', 'string', 'none', 'process name (comm)'],
  ['proc.args', 'string', 'none', 'command-line arguments after the name'],
  ['proc.env', 'string', 'key-optional', 'environment; with [NAME] one variable'],
  ['proc.cmdline', 'string', 'none', 'name and arguments'],
  ['proc.exeline', 'string', 'none', 'exe and arguments'],
  ['proc.cwd', 'string', 'none', 'current working directory'],
  ['proc.nthreads', 'number', 'none', 'number of threads'],
  ['proc.nchilds', 'number', 'none', 'number of child threads'],
  ['proc.ppid', 'number', 'none', 'parent process id'],
  ['proc.pname', 'string', 'none', 'parent process name'],
  ['proc.pcmdline', 'string', 'none', 'parent command line'],
  ['proc.pexe', 'string', 'none', 'parent argv[0]'],
  ['proc.pexepath', 'string', 'none', 'parent executable path'],
  ['proc.apid', 'number', 'index-or-any', 'ancestor pid: [N] for level N, no argument for any ancestor'],
  ['proc.aname', 'string', 'index-or-any', 'ancestor name: [N] for level N, no argument for any ancestor'],
  ['proc.aexe', 'string', 'index-or-any', 'ancestor argv[0]'],
  ['proc.aexepath', 'string', 'index-or-any', 'ancestor executable path'],
  ['proc.acmdline', 'string', 'index-or-any', 'ancestor command line'],
  ['proc.loginshellid', 'number', 'none', 'pid of the oldest shell ancestor'],
  ['proc.duration', 'reltime', 'none', 'ns since the process started'],
  ['proc.fdopencount', 'number', 'none', 'open file descriptors'],
  ['proc.vmsize', 'number', 'none', 'virtual memory, KB'],
  ['proc.vmrss', 'number', 'none', 'resident memory, KB'],
  ['proc.sid', 'number', 'none', 'session id'],
  ['proc.sname', 'string', 'none', 'session leader name'],
  ['proc.is_sid_leader', 'bool', 'none', 'process is its session leader'],
  ['proc.tty', 'number', 'none', 'controlling terminal, 0 when none'],
  ['proc.exepath', 'string', 'none', 'full executable path'],
  ['proc.vpgid', 'number', 'none', 'process group id (pid namespace)'],
  ['proc.vpgid.name', 'string', 'none', 'process group leader name'],
  ['proc.is_vpgid_leader', 'bool', 'none', 'process is its group leader'],
  ['proc.vpid', 'number', 'none', 'pid in its namespace'],
  ['proc.pvpid', 'number', 'none', 'parent pid in its namespace'],
  ['proc.is_exe_writable', 'bool', 'none', 'executable is writable by the process user'],
  ['proc.is_exe_upper_layer', 'bool', 'none', 'executable lives in an overlayfs upper layer'],
  ['proc.is_exe_from_memfd', 'bool', 'none', 'executable is a memfd file'],
  ['proc.exe_ino', 'number', 'none', 'executable inode'],
  ['proc.exe_ino.ctime', 'abstime', 'none', 'executable inode change time'],
  ['proc.exe_ino.mtime', 'abstime', 'none', 'executable modification time'],
  ['proc.exe_ino.ctime_duration_proc_start', 'reltime', 'none', 'ns between executable ctime and process start'],
  ['proc.exe_ino.ctime_duration_pidns_start', 'reltime', 'none', 'ns between pid namespace start and executable ctime'],
  ['proc.pidns_init_start_ts', 'abstime', 'none', 'start of the pid namespace init process'],
  ['proc.is_container_healthcheck', 'bool', 'none', 'process is a container health check'],
  ['proc.cmdnargs', 'number', 'none', 'number of command-line arguments'],
  ['proc.cmdlenargs', 'number', 'none', 'length of the arguments'],
  ['proc.stdin.type', 'string', 'none', 'type of fd 0'],
  ['proc.stdout.type', 'string', 'none', 'type of fd 1'],
  // thread.*
  ['thread.tid', 'number', 'none', 'thread id'],
  ['thread.vtid', 'number', 'none', 'thread id in its namespace'],
  ['thread.ismain', 'bool', 'none', 'main thread'],
  ['thread.cap_permitted', 'string', 'none', 'permitted capabilities'],
  ['thread.cap_inheritable', 'string', 'none', 'inheritable capabilities'],
  ['thread.cap_effective', 'string', 'none', 'effective capabilities'],
  ['thread.exectime', 'reltime', 'none', 'CPU time of the last scheduled slice'],
  ['thread.totexectime', 'reltime', 'none', 'total CPU time'],
  ['thread.cgroups', 'string', 'none', 'all cgroups'],
  ['thread.cgroup', 'string', 'key', 'cgroup of one subsystem'],
  // user.* group.*
  ['user.uid', 'number', 'none', 'user id'],
  ['user.name', 'string', 'none', 'user name'],
  ['user.homedir', 'string', 'none', 'home directory'],
  ['user.shell', 'string', 'none', 'login shell'],
  ['user.loginuid', 'number', 'none', 'audit login uid, -1 when none'],
  ['user.loginname', 'string', 'none', 'audit login user name'],
  ['group.gid', 'number', 'none', 'group id'],
  ['group.name', 'string', 'none', 'group name'],
  // fd.*
  ['fd.num', 'number', 'none', 'file descriptor number'],
  ['fd.type', 'string', 'none', 'fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, memfd, ...'],
  ['fd.typechar', 'string', 'none', 'fd type as one character: f, 4, 6, u, p, e, s, l, i, b, m, d, o, r'],
  ['fd.name', 'string', 'none', 'full fd name: path, or connection tuple'],
  ['fd.nameraw', 'string', 'none', 'fd name as passed to the call, unresolved'],
  ['fd.directory', 'string', 'none', 'directory of a file fd'],
  ['fd.filename', 'string', 'none', 'file name without directory'],
  ['fd.ip', 'ip', 'none', 'client or server address (matches either)'],
  ['fd.cip', 'ip', 'none', 'client address'],
  ['fd.sip', 'ip', 'none', 'server address'],
  ['fd.lip', 'ip', 'none', 'local address'],
  ['fd.rip', 'ip', 'none', 'remote address'],
  ['fd.port', 'port', 'none', 'client or server port (matches either)'],
  ['fd.cport', 'port', 'none', 'client port'],
  ['fd.sport', 'port', 'none', 'server port'],
  ['fd.lport', 'port', 'none', 'local port'],
  ['fd.rport', 'port', 'none', 'remote port'],
  ['fd.l4proto', 'string', 'none', 'layer-4 protocol: tcp, udp, icmp, raw'],
  ['fd.sockfamily', 'string', 'none', 'socket family: ip or unix'],
  ['fd.is_server', 'bool', 'none', 'the process is the server side'],
  ['fd.net', 'ipnet', 'none', 'client or server address, compared against networks'],
  ['fd.cnet', 'ipnet', 'none', 'client address, compared against networks'],
  ['fd.snet', 'ipnet', 'none', 'server address, compared against networks'],
  ['fd.lnet', 'ipnet', 'none', 'local address, compared against networks'],
  ['fd.rnet', 'ipnet', 'none', 'remote address, compared against networks'],
  ['fd.connected', 'bool', 'none', 'socket is connected'],
  ['fd.name_changed', 'bool', 'none', 'fd name changed during the event'],
  ['fd.cip.name', 'string', 'none', 'client domain name'],
  ['fd.sip.name', 'string', 'none', 'server domain name'],
  ['fd.lip.name', 'string', 'none', 'local domain name'],
  ['fd.rip.name', 'string', 'none', 'remote domain name'],
  ['fd.proto', 'string', 'none', 'protocol name of the port'],
  ['fd.dev', 'number', 'none', 'device number'],
  ['fd.dev.major', 'number', 'none', 'device major number'],
  ['fd.dev.minor', 'number', 'none', 'device minor number'],
  ['fd.ino', 'number', 'none', 'inode number'],
  ['fd.uid', 'string', 'none', 'unique fd id'],
  ['fd.containername', 'string', 'none', 'container id and fd name'],
  ['fd.containerdirectory', 'string', 'none', 'container id and directory'],
  // fs.path.*
  ['fs.path.name', 'string', 'none', 'path the event acts on'],
  ['fs.path.nameraw', 'string', 'none', 'path as passed, unresolved'],
  ['fs.path.source', 'string', 'none', 'source path of a rename/link'],
  ['fs.path.sourceraw', 'string', 'none', 'source path as passed'],
  ['fs.path.target', 'string', 'none', 'target path of a rename/link'],
  ['fs.path.targetraw', 'string', 'none', 'target path as passed'],
  // container.*
  ['container.id', 'string', 'none', 'container id (12 characters), "host" outside containers'],
  ['container.full_id', 'string', 'none', 'full container id'],
  ['container.name', 'string', 'none', 'container name'],
  ['container.image', 'string', 'none', 'image name'],
  ['container.image.id', 'string', 'none', 'image id'],
  ['container.image.repository', 'string', 'none', 'image repository'],
  ['container.image.tag', 'string', 'none', 'image tag'],
  ['container.image.digest', 'string', 'none', 'image digest'],
  ['container.type', 'string', 'none', 'container runtime type'],
  ['container.privileged', 'bool', 'none', 'privileged container'],
  ['container.mounts', 'string', 'none', 'all mounts as text'],
  ['container.mount', 'string', 'key', 'one mount by index or source'],
  ['container.mount.source', 'string', 'key', 'mount source by index or destination'],
  ['container.mount.dest', 'string', 'key', 'mount destination by index or source (glob allowed)'],
  ['container.mount.mode', 'string', 'key', 'mount mode'],
  ['container.mount.rdwr', 'string', 'key', 'mount is read-write'],
  ['container.mount.propagation', 'string', 'key', 'mount propagation'],
  ['container.healthcheck', 'string', 'none', 'health check command'],
  ['container.liveness_probe', 'string', 'none', 'liveness probe command'],
  ['container.readiness_probe', 'string', 'none', 'readiness probe command'],
  ['container.start_ts', 'abstime', 'none', 'container start time'],
  ['container.duration', 'reltime', 'none', 'ns since the container started'],
  ['container.ip', 'ip', 'none', 'container address'],
  ['container.cni.json', 'string', 'none', 'CNI result'],
  ['container.host_pid', 'bool', 'none', 'shares the host pid namespace'],
  ['container.host_network', 'bool', 'none', 'shares the host network namespace'],
  ['container.host_ipc', 'bool', 'none', 'shares the host IPC namespace'],
  ['container.label', 'string', 'key', 'container label by key'],
  // k8s.*
  ['k8s.ns.name', 'string', 'none', 'namespace'],
  ['k8s.pod.name', 'string', 'none', 'pod name'],
  ['k8s.pod.id', 'string', 'none', 'pod uid (legacy name)'],
  ['k8s.pod.uid', 'string', 'none', 'pod uid'],
  ['k8s.pod.sandbox_id', 'string', 'none', 'pod sandbox id (12 characters)'],
  ['k8s.pod.full_sandbox_id', 'string', 'none', 'pod sandbox id'],
  ['k8s.pod.label', 'string', 'key', 'pod label by key'],
  ['k8s.pod.labels', 'list', 'none', 'pod labels as key:value'],
  ['k8s.pod.ip', 'ip', 'none', 'pod address'],
  ['k8s.pod.cni.json', 'string', 'none', 'pod CNI result'],
  ['k8s.ns.label', 'string', 'key', 'namespace label by key'],
  ['k8s.ns.labels', 'list', 'none', 'namespace labels as key:value'],
  ['k8s.pod.serviceaccount', 'string', 'none', 'pod service account (Peregrine)'],
  ['k8s.node.label', 'string', 'key', 'node label by key (Peregrine)'],
  ['k8s.node.labels', 'list', 'none', 'node labels as key:value (Peregrine)'],
  ['k8s.statefulset.name', 'string', 'none', 'stateful set (Peregrine)'],
  ['k8s.daemonset.name', 'string', 'none', 'daemon set (Peregrine)'],
  ['k8s.job.name', 'string', 'none', 'job (Peregrine)'],
  ['k8s.cronjob.name', 'string', 'none', 'cron job (Peregrine)'],
  ['k8s.rc.name', 'string', 'none', 'replication controller'],
  ['k8s.rs.name', 'string', 'none', 'replica set'],
  ['k8s.deployment.name', 'string', 'none', 'deployment'],
  ['k8s.svc.name', 'string', 'none', 'service'],
  ['k8s.node.name', 'string', 'none', 'node name'],
  ['k8s.workload.kind', 'string', 'none', 'owning workload kind (Peregrine)'],
  ['k8s.workload.name', 'string', 'none', 'owning workload name (Peregrine)'],
];

/** Fields whose names carry their argument after a dot: `evt.arg.flags`, `k8s.pod.label.app`. */
const DOTTED_ARG_PREFIXES: readonly string[] = [
  'evt.arg.',
  'evt.rawarg.',
  'k8s.pod.label.',
  'k8s.ns.label.',
  'k8s.node.label.',
  'container.label.',
];

/** Maximum ancestor level held by events (`proc.aname[N]`, N ≤ this). */
export const MAX_ANCESTOR_LEVEL = 16;

/**
 * The field catalog of the syscall source: the single source of truth for the compiler, the
 * output formatter, the replay reader and the docs. Immutable once built.
 */
export class FieldCatalog {
  private readonly byName = new Map<string, FieldDef>();

  constructor(rows: readonly Row[] = ROWS) {
    for (const [name, type, arg, desc] of rows) this.byName.set(name, { name, type, arg, desc });
  }

  /** Every field, in catalog order. */
  all(): readonly FieldDef[] {
    return [...this.byName.values()];
  }

  /**
   * Resolves a field name as written in a condition (without its bracket argument).
   * `evt.arg.flags` resolves to `evt.arg` with arg `flags`. Returns undefined for unknown names.
   */
  resolve(name: string, bracketArg?: string): { def: FieldDef; ref: FieldRef } | undefined {
    const def = this.byName.get(name);
    if (def) return { def, ref: bracketArg === undefined ? { name } : { name, arg: bracketArg } };
    for (const prefix of DOTTED_ARG_PREFIXES) {
      if (name.startsWith(prefix) && name.length > prefix.length && bracketArg === undefined) {
        const base = this.byName.get(prefix.slice(0, -1));
        if (base) return { def: base, ref: { name: base.name, arg: name.slice(prefix.length) } };
      }
    }
    return undefined;
  }

  /** True when some known field starts with `prefix.` (used by `skip-if-unknown-filter`). */
  hasPrefix(name: string): boolean {
    const head = name.split('.')[0] + '.';
    for (const k of this.byName.keys()) if (k.startsWith(head)) return true;
    return false;
  }

  /** The closest known field names, for "did you mean" hints. */
  suggest(name: string, max = 3): string[] {
    const scored: Array<[number, string]> = [];
    for (const k of this.byName.keys()) {
      const d = editDistance(name, k);
      if (d <= Math.max(2, Math.floor(name.length / 4))) scored.push([d, k]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
    return scored.slice(0, max).map(([, k]) => k);
  }
}

/** Levenshtein distance, bounded inputs (field names). */
function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/**
 * The canonical key under which an event stores a field reference, as Falco prints it in
 * `output_fields`: `proc.aname[2]`, `evt.arg.flags`, `k8s.pod.label[app]`.
 */
export function fieldKey(ref: FieldRef): string {
  if (ref.arg === undefined) return ref.name;
  if ((ref.name === 'evt.arg' || ref.name === 'evt.rawarg') && !/^\d+$/.test(ref.arg)) return `${ref.name}.${ref.arg}`;
  return `${ref.name}[${ref.arg}]`;
}
