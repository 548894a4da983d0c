import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EbpfCapture, checkSensorHost, type SensorEvent } from '../src/sensor/index.js';

/** CPU seconds (user+system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** The load generator (C, compiled here with `cc`; the Node generator when there is no compiler). */
function generator(dir: string): string[] {
  const src = fileURLToPath(new URL('../../bench/load-generator.c', import.meta.url));
  const bin = join(dir, 'load-generator');
  try {
    execFileSync('cc', ['-O2', '-o', bin, src], { stdio: 'ignore' });
    return [bin];
  } catch {
    return [process.execPath, fileURLToPath(new URL('./load-generator.js', import.meta.url))];
  }
}

/** Runs the generator on the last core; resolves with its pid's counts (`DONE opens execs`). */
async function load(
  cmd: string[],
  file: string,
  rate: number,
  ms: number,
  execs: number,
  onPid: (pid: number) => void = () => undefined,
): Promise<{ opens: number; execs: number; wallSec: number }> {
  const core = String(Math.max(0, cpus().length - 1));
  const gen = spawn('taskset', ['-c', core, ...cmd, file, String(rate), String(ms), String(execs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onPid(gen.pid!);
  const t0 = performance.now();
  let out = '';
  gen.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((r) => gen.once('exit', r));
  const m = /DONE (\d+) (\d+)/.exec(out);
  return { opens: Number(m?.[1] ?? 0), execs: Number(m?.[2] ?? 0), wallSec: (performance.now() - t0) / 1000 };
}

/**
 * The bundled eBPF sensor (v2: CO-RE program, binary records) under a synthetic load generated
 * here on one core: events captured per second with every field filled, the share lost, the CPU
 * the loader and the Node decoding spend per event, and how much the sensor slows the traced
 * process down (its operations per second with the sensor attached ÷ without, one run).
 */
export async function sensorSuite(): Promise<Record<string, number>> {
  const { loader } = checkSensorHost();
  const dir = mkdtempSync(join(tmpdir(), 'sensor-bench-'));
  const file = join(dir, 'target');
  writeFileSync(file, 'x');
  const cmd = generator(dir);
  const slowMs = 2_000;

  // 1. the traced process alone: opens as fast as it can, no sensor
  const bare = await load(cmd, file, 0, slowMs, 0);

  let loadPid = -1;
  let opens = 0;
  let execs = 0;
  let complete = 0;
  let firstTs = 0n;
  let lastTs = 0n;
  const count = (batch: SensorEvent[]): void => {
    for (const e of batch) {
      if (e.pid === loadPid && e.type === 'openat' && e.params?.name === file) {
        opens++;
        if (firstTs === 0n) firstTs = e.tsNs;
        lastTs = e.tsNs;
        if (e.exepath && e.ancestors?.length && e.fd?.name === file && e.params.flags && e.tsNs > 0n && e.capEffective)
          complete++;
      } else if (e.type === 'execve' && e.ppid === loadPid && e.args === 'peregrine-bench' && e.res === 0) execs++;
    }
  };
  const capture = new EbpfCapture({ loader, onEvents: count });
  await capture.start();
  try {
    // 2. the same with the sensor attached (same run, same machine state)
    const traced = await load(cmd, file, 0, slowMs, 0, (p) => (loadPid = p));
    await new Promise((r) => setTimeout(r, 500)); // drain
    const tracedSlowdown = traced.opens / traced.wallSec / (bare.opens / bare.wallSec);

    // 3. capture at the target rate: everything the generator does must arrive, complete
    opens = execs = complete = 0;
    firstTs = lastTs = 0n;
    const rate = Number(process.env.SENSOR_BENCH_RATE ?? 150_000);
    const cpu0 = process.cpuUsage();
    const l0 = cpuSeconds(capture.pid!);
    const lost0 = capture.stats.kernelLost;
    const events0 = capture.stats.events;
    const done = await load(cmd, file, rate, 4_000, 400, (p) => (loadPid = p));
    await new Promise((r) => setTimeout(r, 1_000)); // drain
    const cpu = process.cpuUsage(cpu0);
    const loaderCpuSec = cpuSeconds(capture.pid!) - l0;
    const sensorCpuSec = (cpu.user + cpu.system) / 1e6 + loaderCpuSec;
    const decoded = capture.stats.events - events0; // everything captured meanwhile, not only the generator's
    const expected = done.opens + done.execs;
    const captured = opens + execs;
    const spanSec = Number(lastTs - firstTs) / 1e9;
    return {
      // over the load itself (first to last captured open), not the generator's start-up
      capturedEventsPerSec: Math.round(captured / (spanSec || done.wallSec)),
      lostRatio: expected ? Math.max(0, 1 - captured / expected) : 1,
      completeFieldsRatio: opens ? complete / opens : 0,
      cpuMicrosPerEvent: Number(((sensorCpuSec / Math.max(1, decoded)) * 1e6).toFixed(2)),
      loaderCpuMicrosPerEvent: Number(((loaderCpuSec / Math.max(1, decoded)) * 1e6).toFixed(2)),
      decodedEvents: decoded,
      tracedSlowdown: Number(tracedSlowdown.toFixed(3)),
      bareOpsPerSec: Math.round(bare.opens / bare.wallSec),
      tracedOpsPerSec: Math.round(traced.opens / traced.wallSec),
      generatedEvents: expected,
      capturedSpanSec: spanSec,
      kernelLost: capture.stats.kernelLost - lost0,
      sensorCpuPercent: Math.round((sensorCpuSec / (done.wallSec + 1)) * 100),
    };
  } finally {
    await capture.shutdown();
  }
}
