import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat's start time (USER_HZ: 100 on Linux). */
const USER_HZ = 100n;
let bootNs: bigint | undefined;

/** The boot time, ns since the epoch (from /proc/stat's `btime`, read once). */
function bootTimeNs(procRoot: string): bigint | undefined {
  if (bootNs !== undefined) return bootNs;
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
    if (m) bootNs = BigInt(m[1]) * 1_000_000_000n;
  } catch {
    /* no /proc */
  }
  return bootNs;
}

/** What /proc/PID/stat says of a process: its start (ns since the epoch) and its parent. */
export interface ProcStat {
  readonly startNs?: bigint;
  readonly ppid?: number;
}

/** One read of /proc/PID/stat; undefined when the process is gone. */
export function procStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // the comm field is in parentheses and may contain spaces or ')': fields follow the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = BigInt(fields[19]); // field 22 of stat; 20th after comm
    const boot = bootTimeNs(procRoot);
    return {
      startNs: boot === undefined ? undefined : boot + (ticks * 1_000_000_000n) / USER_HZ,
      ppid: Number(fields[1]) || undefined, // field 4: after the state
    };
  } catch {
    return undefined;
  }
}

/**
 * When process `pid` started, in ns since the epoch, from /proc (10 ms resolution; boot time in
 * whole seconds, so two readers on one host may differ by up to a second); undefined when the
 * process is gone. The sensor fills `proc.duration` from it; `process:kill` compares it again just
 * before killing, so a reused pid is never killed.
 */
export function processStartNs(pid: number, procRoot = '/proc'): bigint | undefined {
  return procStat(pid, procRoot)?.startNs;
}
