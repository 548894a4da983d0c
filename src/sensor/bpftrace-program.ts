/**
 * Generates Peregrine's bpftrace program. bpftrace has no functions or macros, so the caller
 * block (process and 5 ancestors, read in the kernel at event time) is repeated per probe here
 * instead of by hand. `peregrine sensor --print-program` prints the result.
 *
 * Output records (tab-separated, one probe invocation prints one event's records in order):
 *   P tid ns type ret pid uid gid loginuid sid ttymajor ttyminor comm (apid acomm)×5   (execs)
 *   Q tid ns type ret pid uid gid loginuid sid ttymajor ttyminor comm apid×5           (others)
 *   A tid type arg...            (per-type arguments; at most one string, the last)
 *   B tid string                 (each further string argument, in order)
 *   S tid family lip lport rip rport proto   (the event's descriptor, when an IPv4/IPv6 socket)
 *   N tid 4 addr port            (sendto/sendmsg/recvfrom/recvmsg: the address the call names)
 *   C tid cgroup-path            (execs only: the container id comes from it)
 *   E tid name                   (execs only: the new executable's file name, as the kernel has it;
 *                                 "memfd:NAME" for a memfd)
 *   J tid path                   (exec entry) followed by one line: argv joined by \x1f
 *   X tid ns pid exitcode comm    (process exit)
 * `$1`, `$2`, `$3` are pids that are not captured: bpftrace itself, the sensor, the agent.
 */

interface Arg {
  /** Stashed at syscall entry as @NAME[tid]. */
  readonly name: string;
  readonly expr: string;
  /** printf format of the value at exit. */
  readonly fmt: '%d' | '%s' | '%u' | '%llu';
}

interface Spec {
  /** Syscalls (tracepoint names) sharing this argument layout. */
  readonly syscalls: readonly string[];
  readonly args: readonly Arg[];
  /** Expression (at exit) of a descriptor to describe as a socket. */
  readonly sockFd?: string;
}

const d = (name: string, expr: string): Arg => ({ name, expr, fmt: '%d' });
const s = (name: string, expr: string): Arg => ({ name, expr, fmt: '%s' });

const SPECS: readonly Spec[] = [
  { syscalls: ['execve'], args: [s('path', 'args->filename')] },
  { syscalls: ['execveat'], args: [d('dirfd', 'args->fd'), s('path', 'args->filename'), d('flags', 'args->flags')] },
  { syscalls: ['open'], args: [d('flags', 'args->flags'), d('mode', 'args->mode'), s('path', 'args->filename')] },
  {
    syscalls: ['openat'],
    args: [d('dirfd', 'args->dfd'), d('flags', 'args->flags'), d('mode', 'args->mode'), s('path', 'args->filename')],
  },
  { syscalls: ['openat2'], args: [d('dirfd', 'args->dfd'), s('path', 'args->filename')] },
  { syscalls: ['creat'], args: [d('mode', 'args->mode'), s('path', 'args->pathname')] },
  { syscalls: ['connect'], args: [d('fd', 'args->fd')], sockFd: '@fd[tid]' },
  { syscalls: ['accept', 'accept4'], args: [d('fd', 'args->fd')], sockFd: 'args->ret' },
  { syscalls: ['bind', 'listen'], args: [d('fd', 'args->fd')], sockFd: '@fd[tid]' },
  { syscalls: ['socket'], args: [d('domain', 'args->family'), d('type', 'args->type'), d('proto', 'args->protocol')] },
  { syscalls: ['dup'], args: [d('oldfd', 'args->fildes')], sockFd: '@oldfd[tid]' },
  { syscalls: ['dup2'], args: [d('oldfd', 'args->oldfd'), d('newfd', 'args->newfd')], sockFd: '@oldfd[tid]' },
  {
    syscalls: ['dup3'],
    args: [d('oldfd', 'args->oldfd'), d('newfd', 'args->newfd'), d('flags', 'args->flags')],
    sockFd: '@oldfd[tid]',
  },
  { syscalls: ['setuid'], args: [d('uid', 'args->uid')] },
  { syscalls: ['setgid'], args: [d('gid', 'args->gid')] },
  { syscalls: ['setresuid'], args: [d('ruid', 'args->ruid'), d('euid', 'args->euid'), d('suid', 'args->suid')] },
  { syscalls: ['ptrace'], args: [d('request', 'args->request'), d('tpid', 'args->pid')] },
  { syscalls: ['unlink'], args: [s('path', 'args->pathname')] },
  { syscalls: ['unlinkat'], args: [d('dirfd', 'args->dfd'), d('flags', 'args->flag'), s('path', 'args->pathname')] },
  { syscalls: ['rmdir'], args: [s('path', 'args->pathname')] },
  { syscalls: ['mkdir'], args: [d('mode', 'args->mode'), s('path', 'args->pathname')] },
  { syscalls: ['mkdirat'], args: [d('dirfd', 'args->dfd'), d('mode', 'args->mode'), s('path', 'args->pathname')] },
  { syscalls: ['rename'], args: [s('oldpath', 'args->oldname'), s('newpath', 'args->newname')] },
  {
    syscalls: ['renameat', 'renameat2'],
    args: [
      d('olddirfd', 'args->olddfd'),
      d('newdirfd', 'args->newdfd'),
      s('oldpath', 'args->oldname'),
      s('newpath', 'args->newname'),
    ],
  },
  { syscalls: ['symlink'], args: [s('target', 'args->oldname'), s('linkpath', 'args->newname')] },
  {
    syscalls: ['symlinkat'],
    args: [d('newdirfd', 'args->newdfd'), s('target', 'args->oldname'), s('linkpath', 'args->newname')],
  },
  { syscalls: ['link'], args: [s('oldpath', 'args->oldname'), s('newpath', 'args->newname')] },
  {
    syscalls: ['linkat'],
    args: [
      d('olddirfd', 'args->olddfd'),
      d('newdirfd', 'args->newdfd'),
      s('oldpath', 'args->oldname'),
      s('newpath', 'args->newname'),
    ],
  },
  { syscalls: ['chmod'], args: [d('mode', 'args->mode'), s('path', 'args->filename')] },
  { syscalls: ['fchmod'], args: [d('fd', 'args->fd'), d('mode', 'args->mode')] },
  { syscalls: ['fchmodat'], args: [d('dirfd', 'args->dfd'), d('mode', 'args->mode'), s('path', 'args->filename')] },
  { syscalls: ['mount'], args: [s('dev', 'args->dev_name'), s('dir', 'args->dir_name'), s('fstype', 'args->type')] },
  { syscalls: ['umount'], args: [s('dir', 'args->name')] },
  { syscalls: ['init_module'], args: [d('len', 'args->len')] },
  { syscalls: ['finit_module'], args: [d('fd', 'args->fd')] },
  { syscalls: ['memfd_create'], args: [d('flags', 'args->flags'), s('name', 'args->uname')] },
  { syscalls: ['bpf'], args: [d('cmd', 'args->cmd')] },
  { syscalls: ['setns'], args: [d('fd', 'args->fd'), d('nstype', 'args->flags')] },
  { syscalls: ['unshare'], args: [d('flags', 'args->unshare_flags')] },
  { syscalls: ['userfaultfd'], args: [d('flags', 'args->flags')] },
  // not a Falco rule event: keeps each process's cwd current for resolving relative paths
  { syscalls: ['chdir'], args: [s('path', 'args->filename')] },
  { syscalls: ['fchdir'], args: [d('fd', 'args->fd')] },
];

/** Kernel-side filter: not bpftrace itself ($1), not the sensor ($2), not the agent ($3). */
const NOT_OURS = 'pid != $1 && pid != $2 && pid != $3';

/**
 * The caller record. Execs carry the ancestors' names (read in the kernel at that moment); other
 * events carry only the ancestors' pids (Q record, names come from the exec records and the
 * process table), which halves bpftrace's formatting work on the hottest events (opens).
 */
const CALLER = (type: string): string => (type.startsWith('execve') ? CALLER_FULL(type) : CALLER_PIDS(type));

const CALLER_PIDS = (type: string): string =>
  '$t = curtask; $p1 = $t->real_parent; $p2 = $p1->real_parent; $p3 = $p2->real_parent; $p4 = $p3->real_parent; $p5 = $p4->real_parent;\n' +
  '  printf("Q\\t%d\\t%llu\\t' +
  type +
  '\\t%d\\t%d\\t%u\\t%u\\t%d\\t%d\\t%d\\t%d\\t%s\\t%d\\t%d\\t%d\\t%d\\t%d\\n", ' +
  'tid, nsecs, args->ret, pid, uid, gid, $t->loginuid.val, $t->sessionid, $t->signal->tty->driver->major, ' +
  '$t->signal->tty->driver->minor_start + $t->signal->tty->index, comm, $p1->tgid, $p2->tgid, $p3->tgid, $p4->tgid, $p5->tgid);';

const CALLER_FULL = (type: string): string =>
  '$t = curtask; $p1 = $t->real_parent; $p2 = $p1->real_parent; $p3 = $p2->real_parent; $p4 = $p3->real_parent; $p5 = $p4->real_parent;\n' +
  '  printf("P\\t%d\\t%llu\\t' +
  type +
  '\\t%d\\t%d\\t%u\\t%u\\t%d\\t%d\\t%d\\t%d\\t%s\\t%d\\t%s\\t%d\\t%s\\t%d\\t%s\\t%d\\t%s\\t%d\\t%s\\n", ' +
  'tid, nsecs, args->ret, pid, uid, gid, $t->loginuid.val, $t->sessionid, $t->signal->tty->driver->major, ' +
  '$t->signal->tty->driver->minor_start + $t->signal->tty->index, comm, $p1->tgid, $p1->comm, $p2->tgid, $p2->comm, ' +
  '$p3->tgid, $p3->comm, $p4->tgid, $p4->comm, $p5->tgid, $p5->comm);';

/** Describes descriptor `fd` (an expression) as a socket when it is one: the S record. */
const SOCKET = (fd: string): string => `
  $fdn = (uint64)${fd};
  if ($fdn < (uint64)$t->files->fdt->max_fds) {
    $f = *($t->files->fdt->fd + $fdn);
    if ($f != 0 && ($f->f_inode->i_mode & 0xf000) == 0xc000) {
      $sk = ((struct socket *)$f->private_data)->sk;
      $fam = $sk->__sk_common.skc_family;
      $rport = ($sk->__sk_common.skc_dport >> 8) | (($sk->__sk_common.skc_dport << 8) & 0xff00);
      if ($fam == 2) {
        printf("S\\t%d\\t4\\t%s\\t%d\\t%s\\t%d\\t%d\\n", tid, ntop(2, $sk->__sk_common.skc_rcv_saddr), $sk->__sk_common.skc_num, ntop(2, $sk->__sk_common.skc_daddr), $rport, $sk->sk_protocol);
      }
      if ($fam == 10) {
        printf("S\\t%d\\t6\\t%s\\t%d\\t%s\\t%d\\t%d\\n", tid, ntop(10, $sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), $sk->__sk_common.skc_num, ntop(10, $sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), $rport, $sk->sk_protocol);
      }
    }
  }`;

/**
 * Address-bearing sends and receives (IPv4): the address is a user-space sockaddr, read at entry
 * for sends and at exit for receives (the kernel fills it). Calls without an address (connected
 * sockets) are not reported. Record: N tid 4 addr port, after A (fd) and S (the socket's ends).
 */
const ADDRESS_CALLS: ReadonlyArray<{ sc: string; at: 'enter' | 'exit'; sockaddr: string }> = [
  { sc: 'sendto', at: 'enter', sockaddr: 'args->addr' },
  { sc: 'sendmsg', at: 'enter', sockaddr: '((struct user_msghdr *)args->msg)->msg_name' },
  { sc: 'recvfrom', at: 'exit', sockaddr: '@ptr[tid]' },
  { sc: 'recvmsg', at: 'exit', sockaddr: '((struct user_msghdr *)@ptr[tid])->msg_name' },
];

function addressProbes(available: (sc: string) => boolean): string[] {
  const out: string[] = [];
  const read = (ptr: string): string =>
    `$sa = (struct sockaddr_in *)(${ptr}); if ($sa != 0) { @fam[tid] = $sa->sin_family; @nport[tid] = ($sa->sin_port >> 8) | (($sa->sin_port << 8) & 0xff00); @nip[tid] = $sa->sin_addr.s_addr; }`;
  for (const c of ADDRESS_CALLS) {
    if (!available(c.sc)) continue;
    const ptrArg = c.sc === 'recvfrom' ? 'args->addr' : 'args->msg';
    const enter = c.at === 'enter' ? read(c.sockaddr) : `@ptr[tid] = (uint64)${ptrArg};`;
    out.push(`tracepoint:syscalls:sys_enter_${c.sc} /${NOT_OURS}/ { @on[tid] = 1; @fd[tid] = args->fd; ${enter} }`);
    const atExit = c.at === 'exit' ? `if (args->ret >= 0 && @ptr[tid] != 0) { ${read(c.sockaddr)} }` : '';
    out.push(`tracepoint:syscalls:sys_exit_${c.sc} /@on[tid]/ {
  ${atExit}
  if (@fam[tid] == 2) {
    ${CALLER(c.sc)}
    printf("A\\t%d\\t${c.sc}\\t%d\\n", tid, @fd[tid]);${SOCKET('@fd[tid]')}
    printf("N\\t%d\\t4\\t%s\\t%d\\n", tid, ntop(2, @nip[tid]), @nport[tid]);
  }
  delete(@on[tid]); delete(@fd[tid]); delete(@ptr[tid]); delete(@fam[tid]); delete(@nport[tid]); delete(@nip[tid]);
}`);
  }
  return out;
}

/** Where syscall tracepoints are listed (tracefs). */
export const TRACEFS_SYSCALLS = '/sys/kernel/tracing/events/syscalls';

/**
 * The whole program text. `available` says whether this kernel has a syscall's tracepoints
 * (some kernels lack some, e.g. finit_module); probes for missing ones are left out.
 */
export function bpftraceProgram(available: (syscall: string) => boolean = () => true): string {
  const out: string[] = [
    '// Generated by src/sensor/bpftrace-program.ts: edit that file, not this output.',
    'BEGIN { printf("READY\\n"); }',
  ];
  for (const spec of SPECS) {
    for (const sc of spec.syscalls) {
      if (!available(sc)) continue;
      const stash = spec.args.map((a) => `@${a.name}[tid] = ${a.expr};`).join(' ');
      // execs also print the argument vector at entry (J record, then join()'s line, \x1f-separated)
      // (the path too: after a successful exec the caller's memory is gone)
      const argv = sc.startsWith('execve')
        ? ' printf("J\\t%d\\t%s\\n", tid, str(args->filename)); join(args->argv, "\\x1f");'
        : '';
      out.push(`tracepoint:syscalls:sys_enter_${sc} /${NOT_OURS}/ { @on[tid] = 1; ${stash}${argv} }`);
      // One string per printf (the BPF stack is 512 bytes): later strings go on B records.
      const firstStr = spec.args.findIndex((a) => a.fmt === '%s');
      const inA = spec.args.filter((a, i) => a.fmt !== '%s' || i === firstStr);
      const inB = spec.args.filter((a, i) => a.fmt === '%s' && i !== firstStr);
      const fmts = inA.map((a) => a.fmt).join('\\t');
      const vals = inA.map((a) => (a.fmt === '%s' ? `str(@${a.name}[tid])` : `@${a.name}[tid]`)).join(', ');
      let argLine = inA.length
        ? `printf("A\\t%d\\t${sc}\\t${fmts}\\n", tid, ${vals});`
        : `printf("A\\t%d\\t${sc}\\n", tid);`;
      for (const b of inB) argLine += ` printf("B\\t%d\\t%s\\n", tid, str(@${b.name}[tid]));`;
      const cgroup = sc.startsWith('execve')
        ? '\n  printf("C\\t%d\\t%s\\n", tid, cgroup_path(cgroup));\n  printf("E\\t%d\\t%s\\n", tid, str(curtask->mm->exe_file->f_path.dentry->d_name.name));'
        : '';
      const sock = spec.sockFd ? SOCKET(spec.sockFd) : '';
      const cleanup = ['on', ...spec.args.map((a) => a.name)].map((n) => `delete(@${n}[tid]);`).join(' ');
      out.push(
        `tracepoint:syscalls:sys_exit_${sc} /@on[tid]/ {\n  ${CALLER(sc)}\n  ${argLine}${sock}${cgroup}\n  ${cleanup}\n}`,
      );
    }
  }
  out.push(...addressProbes(available));
  out.push(
    `tracepoint:sched:sched_process_exit /${NOT_OURS} && pid == tid/ { printf("X\\t%d\\t%llu\\t%d\\t%d\\t%s\\n", tid, nsecs, pid, curtask->exit_code >> 8, comm); }`,
  );
  out.push('END { clear(@on); }');
  return out.join('\n') + '\n';
}

/** The syscalls the program captures (plus process exit). */
export const CAPTURED_SYSCALLS: readonly string[] = [
  ...SPECS.flatMap((x) => x.syscalls),
  ...ADDRESS_CALLS.map((c) => c.sc),
];

/** How a syscall's arguments are laid out on its A and B records (names in print order). */
export function argLayout(
  syscall: string,
): { readonly a: readonly string[]; readonly b: readonly string[] } | undefined {
  if (ADDRESS_CALLS.some((c) => c.sc === syscall)) return { a: ['fd'], b: [] };
  const spec = SPECS.find((x) => x.syscalls.includes(syscall));
  if (!spec) return undefined;
  const firstStr = spec.args.findIndex((x) => x.fmt === '%s');
  return {
    a: spec.args.filter((x, i) => x.fmt !== '%s' || i === firstStr).map((x) => x.name),
    b: spec.args.filter((x, i) => x.fmt === '%s' && i !== firstStr).map((x) => x.name),
  };
}
