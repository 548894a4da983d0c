import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** A start-up problem of the sensor, with what to do about it. */
export class SensorSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SensorSetupError';
  }
}

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** The effective capabilities of this process. */
function capEff(): bigint {
  try {
    const m = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

const has = (caps: bigint, bit: bigint): boolean => ((caps >> bit) & 1n) === 1n;

/**
 * Checks (and where it can, fixes) what the eBPF sensor needs: privileges (root, or CAP_BPF and
 * CAP_PERFMON), bpftrace installed, tracefs mounted (mounted here when root), BTF available.
 * Returns the bpftrace path and the tracefs directory; throws {@link SensorSetupError} listing
 * every problem and its fix.
 */
export function checkSensorHost(): { bpftrace: string; tracefs: string } {
  const problems: string[] = [];
  const caps = capEff();
  const root = process.getuid?.() === 0;
  if (!root && !(has(caps, CAP_BPF) && has(caps, CAP_PERFMON)) && !has(caps, CAP_SYS_ADMIN)) {
    problems.push(
      'not enough privilege: run as root, or grant CAP_BPF and CAP_PERFMON (e.g. securityContext.capabilities.add in the DaemonSet)',
    );
  }
  let bpftrace = '';
  try {
    bpftrace = execFileSync('sh', ['-c', 'command -v bpftrace'], { encoding: 'utf8' }).trim();
  } catch {
    problems.push('bpftrace is not installed: apt-get install -y bpftrace (scripts/setup does this on Debian)');
  }
  let tracefs = '/sys/kernel/tracing';
  if (!existsSync(`${tracefs}/events`)) {
    if (existsSync('/sys/kernel/debug/tracing/events')) tracefs = '/sys/kernel/debug/tracing';
    else if (root) {
      try {
        execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
      } catch {
        /* reported below */
      }
    }
    if (!existsSync(`${tracefs}/events`))
      problems.push('tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing (needs root)');
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    problems.push(
      'kernel BTF is missing (/sys/kernel/btf/vmlinux): the sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    );
  }
  if (problems.length) throw new SensorSetupError(`the eBPF sensor cannot start:\n  - ${problems.join('\n  - ')}`);
  return { bpftrace, tracefs };
}
