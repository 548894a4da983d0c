/** Renders raw syscall arguments the way Falco prints them (flag names, octal modes). */

const OPEN_FLAGS: ReadonlyArray<[number, string]> = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o20000, 'O_ASYNC'],
  [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
  [0o20000000, 'O_TMPFILE'],
];

const flagTexts = new Map<number, string>();

/** `O_WRONLY|O_CREAT|O_TRUNC` from the numeric flags of open/openat/creat (memoized: a hot path). */
export function openFlags(flags: number): string {
  let t = flagTexts.get(flags);
  if (t === undefined) {
    t = renderOpenFlags(flags);
    if (flagTexts.size >= 4096) flagTexts.clear();
    flagTexts.set(flags, t);
  }
  return t;
}

function renderOpenFlags(flags: number): string {
  const acc = flags & 3;
  const names = [acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : 'O_RDWR'];
  for (const [bit, name] of OPEN_FLAGS)
    if ((flags & bit) === bit && !(name === 'O_TMPFILE' && (flags & 0o200000) === 0)) names.push(name);
  return names.join('|');
}

/** `0644` */
const MODES: readonly string[] = Array.from({ length: 0o10000 }, (_, m) => `0${m.toString(8)}`);

export function octalMode(mode: number): string {
  return MODES[mode & 0o7777];
}

const PTRACE: Readonly<Record<number, string>> = {
  0: 'PTRACE_TRACEME',
  1: 'PTRACE_PEEKTEXT',
  2: 'PTRACE_PEEKDATA',
  3: 'PTRACE_PEEKUSR',
  4: 'PTRACE_POKETEXT',
  5: 'PTRACE_POKEDATA',
  6: 'PTRACE_POKEUSR',
  7: 'PTRACE_CONT',
  8: 'PTRACE_KILL',
  9: 'PTRACE_SINGLESTEP',
  12: 'PTRACE_GETREGS',
  13: 'PTRACE_SETREGS',
  16: 'PTRACE_ATTACH',
  17: 'PTRACE_DETACH',
  24: 'PTRACE_SYSCALL',
  0x4200: 'PTRACE_SETOPTIONS',
  0x4206: 'PTRACE_SEIZE',
  0x4207: 'PTRACE_INTERRUPT',
};

export function ptraceRequest(req: number): string {
  return PTRACE[req] ?? String(req);
}

const AF: Readonly<Record<number, string>> = {
  1: 'AF_UNIX',
  2: 'AF_INET',
  10: 'AF_INET6',
  16: 'AF_NETLINK',
  17: 'AF_PACKET',
};

export function socketDomain(d: number): string {
  return AF[d] ?? String(d);
}
