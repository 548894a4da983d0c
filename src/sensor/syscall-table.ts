/**
 * The syscalls the sensor captures (x86_64 numbers), what the kernel program reads for each, and
 * the names of their raw arguments. The loader writes this table into the kernel's `specs` map
 * (sensor/record.h `struct pg_spec`); the assembler names the arguments with it.
 */

/** How the address a send/receive names is read (sensor/record.h PG_ADDR_*). */
export const AddrKind = {
  None: 0,
  /** sockaddr pointer in argument 4, read at entry (sendto) */
  Enter: 1,
  /** msghdr pointer in argument 1, its msg_name read at entry (sendmsg) */
  MsgEnter: 2,
  /** sockaddr pointer in argument 4, read at exit (recvfrom) */
  Exit: 3,
  /** msghdr pointer in argument 1, its msg_name read at exit (recvmsg) */
  MsgExit: 4,
} as const;
export type AddrKind = (typeof AddrKind)[keyof typeof AddrKind];

/** No argument (record.h PG_ARG_NONE); the return value (PG_ARG_RET). */
export const ARG_NONE = 9;
export const ARG_RET = 6;

/** One captured syscall. */
export interface SyscallSpec {
  /** Falco's event type name. */
  readonly name: string;
  readonly nr: number;
  /** Raw argument names by position (`''` for arguments not reported). */
  readonly args: readonly string[];
  /** Argument positions of string arguments read in the kernel (paths, names), at most three. */
  readonly strings: readonly number[];
  /** Descriptor described as a socket: an argument position, or {@link ARG_RET}. */
  readonly sockFd?: number;
  readonly addr?: AddrKind;
  readonly exec?: boolean;
}

const sc = (
  name: string,
  nr: number,
  args: readonly string[],
  strings: readonly number[] = [],
  more: Partial<Pick<SyscallSpec, 'sockFd' | 'addr' | 'exec'>> = {},
): SyscallSpec => ({ name, nr, args, strings, ...more });

/** Every syscall the sensor can capture, by Falco event type name. */
export const SYSCALLS: readonly SyscallSpec[] = [
  sc('execve', 59, ['path'], [0], { exec: true }),
  sc('execveat', 322, ['dirfd', 'path', '', '', 'flags'], [1], { exec: true }),
  sc('open', 2, ['path', 'flags', 'mode'], [0]),
  sc('openat', 257, ['dirfd', 'path', 'flags', 'mode'], [1]),
  sc('openat2', 437, ['dirfd', 'path'], [1]),
  sc('creat', 85, ['path', 'mode'], [0]),
  sc('connect', 42, ['fd'], [], { sockFd: 0 }),
  sc('accept', 43, ['fd'], [], { sockFd: ARG_RET }),
  sc('accept4', 288, ['fd'], [], { sockFd: ARG_RET }),
  sc('bind', 49, ['fd'], [], { sockFd: 0 }),
  sc('listen', 50, ['fd'], [], { sockFd: 0 }),
  sc('socket', 41, ['domain', 'type', 'proto']),
  sc('dup', 32, ['oldfd'], [], { sockFd: 0 }),
  sc('dup2', 33, ['oldfd', 'newfd'], [], { sockFd: 0 }),
  sc('dup3', 292, ['oldfd', 'newfd', 'flags'], [], { sockFd: 0 }),
  sc('setuid', 105, ['uid']),
  sc('setgid', 106, ['gid']),
  sc('setresuid', 117, ['ruid', 'euid', 'suid']),
  sc('setresgid', 119, ['rgid', 'egid', 'sgid']),
  sc('ptrace', 101, ['request', 'tpid']),
  sc('unlink', 87, ['path'], [0]),
  sc('unlinkat', 263, ['dirfd', 'path', 'flags'], [1]),
  sc('rmdir', 84, ['path'], [0]),
  sc('mkdir', 83, ['path', 'mode'], [0]),
  sc('mkdirat', 258, ['dirfd', 'path', 'mode'], [1]),
  sc('rename', 82, ['oldpath', 'newpath'], [0, 1]),
  sc('renameat', 264, ['olddirfd', 'oldpath', 'newdirfd', 'newpath'], [1, 3]),
  sc('renameat2', 316, ['olddirfd', 'oldpath', 'newdirfd', 'newpath'], [1, 3]),
  sc('symlink', 88, ['target', 'linkpath'], [0, 1]),
  sc('symlinkat', 266, ['target', 'newdirfd', 'linkpath'], [0, 2]),
  sc('link', 86, ['oldpath', 'newpath'], [0, 1]),
  sc('linkat', 265, ['olddirfd', 'oldpath', 'newdirfd', 'newpath'], [1, 3]),
  sc('chmod', 90, ['path', 'mode'], [0]),
  sc('fchmod', 91, ['fd', 'mode']),
  sc('fchmodat', 268, ['dirfd', 'path', 'mode'], [1]),
  sc('mount', 165, ['dev', 'dir', 'fstype'], [0, 1, 2]),
  sc('umount2', 166, ['dir', 'flags'], [0]),
  sc('init_module', 175, ['', 'len']),
  sc('finit_module', 313, ['fd']),
  sc('memfd_create', 319, ['name', 'flags'], [0]),
  sc('bpf', 321, ['cmd']),
  sc('setns', 308, ['fd', 'nstype']),
  sc('unshare', 272, ['flags']),
  sc('userfaultfd', 323, ['flags']),
  sc('chdir', 80, ['path'], [0]),
  sc('fchdir', 81, ['fd']),
  sc('sendto', 44, ['fd'], [], { sockFd: 0, addr: AddrKind.Enter }),
  sc('sendmsg', 46, ['fd'], [], { sockFd: 0, addr: AddrKind.MsgEnter }),
  sc('recvfrom', 45, ['fd'], [], { sockFd: 0, addr: AddrKind.Exit }),
  sc('recvmsg', 47, ['fd'], [], { sockFd: 0, addr: AddrKind.MsgExit }),
];

/** Process exit (`procexit`): not a syscall; its switch in the kernel's table (PG_PROCEXIT_NR). */
export const PROCEXIT_NR = 511;

/**
 * Captured whatever the rules ask for: the process table needs execs (executable, arguments,
 * container), cwd changes (relative paths) and exits (forgetting processes).
 */
export const ALWAYS_CAPTURED: readonly string[] = ['execve', 'execveat', 'chdir', 'fchdir', 'procexit'];

const BY_NR = new Map(SYSCALLS.map((s) => [s.nr, s]));
const BY_NAME = new Map(SYSCALLS.map((s) => [s.name, s]));

export function syscallByNr(nr: number): SyscallSpec | undefined {
  return BY_NR.get(nr);
}

export function syscallByName(name: string): SyscallSpec | undefined {
  return BY_NAME.get(name);
}

/** The event type names the sensor can produce. */
export const CAPTURED_EVENT_TYPES: readonly string[] = [...SYSCALLS.map((s) => s.name), 'procexit'];

/**
 * The syscall numbers to enable for `types` (Falco event type names; undefined or empty = all),
 * always including {@link ALWAYS_CAPTURED}. Unknown names are ignored (the sensor cannot
 * produce them).
 */
export function enabledNumbers(types: readonly string[] | undefined): number[] {
  const want = types && types.length ? new Set([...types, ...ALWAYS_CAPTURED]) : undefined;
  const out = SYSCALLS.filter((s) => !want || want.has(s.name)).map((s) => s.nr);
  out.push(PROCEXIT_NR);
  return out.sort((a, b) => a - b);
}

/** The loader's `spec` lines (sensor/loader.c): every syscall, enabled or not. */
export function specLines(enabled: ReadonlySet<number>): string[] {
  const lines = SYSCALLS.map((s) => {
    const [s1 = ARG_NONE, s2 = ARG_NONE, s3 = ARG_NONE] = s.strings;
    return `spec ${s.nr} ${s1} ${s2} ${s3} ${s.sockFd ?? ARG_NONE} ${s.addr ?? AddrKind.None} ${s.exec ? 1 : 0} ${enabled.has(s.nr) ? 1 : 0}`;
  });
  lines.push(`spec ${PROCEXIT_NR} ${ARG_NONE} ${ARG_NONE} ${ARG_NONE} ${ARG_NONE} 0 0 1`);
  return lines;
}
