import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
 * Whether the loader can load the eBPF program although this process has no privilege (the
 * container image gives the loader file capabilities): it is asked to try (`--check`).
 */
function loaderCanLoad(loader: string): boolean {
  const r = spawnSync(loader, ['--check'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

/** The directory of this package (the one holding package.json), from this module's place. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/**
 * Where the sensor loader is: `$PEREGRINE_SENSOR_LOADER`, else `dist/sensor/peregrine-sensor-loader`
 * in this package (built by scripts/setup: `make -C sensor`).
 */
export function sensorLoaderPath(): string {
  return process.env.PEREGRINE_SENSOR_LOADER || join(packageRoot(), 'dist', 'sensor', 'peregrine-sensor-loader');
}

/**
 * Checks what the eBPF sensor needs: privileges (root, or CAP_BPF and CAP_PERFMON), the built
 * loader, and kernel BTF (the program is CO-RE and attaches to BTF tracepoints; no tracefs).
 * Returns the loader's path; throws {@link SensorSetupError} listing every problem and its fix.
 */
export function checkSensorHost(): { loader: string } {
  const problems: string[] = [];
  const caps = capEff();
  const root = process.getuid?.() === 0;
  const loader = sensorLoaderPath();
  // the loader alone needs the privilege: root, capabilities of this process (inherited), or
  // its own file capabilities (the container image: this process then runs unprivileged)
  if (!root && !(has(caps, CAP_BPF) && has(caps, CAP_PERFMON)) && !has(caps, CAP_SYS_ADMIN) && !loaderCanLoad(loader)) {
    problems.push(
      `not enough privilege: run as root, grant CAP_BPF and CAP_PERFMON (e.g. securityContext.capabilities.add in the DaemonSet), or give ${loader} those file capabilities (setcap cap_bpf,cap_perfmon+ep)`,
    );
  }
  try {
    accessSync(loader, constants.X_OK);
  } catch {
    problems.push(
      `the sensor loader ${loader} is not built: run scripts/setup (it installs clang, libbpf-dev and bpftool and runs make -C sensor), or set PEREGRINE_SENSOR_LOADER`,
    );
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    problems.push(
      'kernel BTF is missing (/sys/kernel/btf/vmlinux): the sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    );
  }
  if (problems.length) throw new SensorSetupError(`the eBPF sensor cannot start:\n  - ${problems.join('\n  - ')}`);
  return { loader };
}
