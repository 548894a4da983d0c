import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpftraceCapture, checkSensorHost } from '../src/sensor/index.js';

/** CPU seconds (user+system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * The bundled eBPF sensor under a synthetic load of file opens and execs generated here:
 * events captured per second with every field filled, the share lost, and the sensor's CPU
 * (bpftrace + the parsing process) over the load.
 */
export async function sensorSuite(): Promise<Record<string, number>> {
  const { bpftrace } = checkSensorHost();
  const file = join(mkdtempSync(join(tmpdir(), 'sensor-bench-')), 'target');
  writeFileSync(file, 'x');
  let loadPid = -1;
  let opens = 0;
  let execs = 0;
  let complete = 0;
  let firstTs = 0n;
  let lastTs = 0n;
  const capture = new BpftraceCapture({
    bpftrace,
    onEvents: (batch) => {
      for (const e of batch) {
        if (e.pid === loadPid && e.type === 'openat' && e.params?.name === file) {
          opens++;
          if (firstTs === 0n) firstTs = e.tsNs;
          lastTs = e.tsNs;
          if (e.exepath && e.ancestors?.length && e.fd?.name === file && e.params.flags && e.tsNs > 0n) complete++;
        } else if (e.type === 'execve' && e.ppid === loadPid && e.args === 'peregrine-bench' && e.res === 0) execs++;
      }
    },
  });
  await capture.start();
  const rate = Number(process.env.SENSOR_BENCH_RATE ?? 55_000);
  const ms = 4_000;
  const wantExecs = 400;
  // A compiled generator (cc is on this machine kind) reaches rates a Node loop cannot; the
  // Node generator is the fallback.
  const src = fileURLToPath(new URL('../../bench/load-generator.c', import.meta.url));
  const bin = join(dirname(file), 'load-generator');
  let cmd = [process.execPath, fileURLToPath(new URL('./load-generator.js', import.meta.url))];
  try {
    execFileSync('cc', ['-O2', '-o', bin, src], { stdio: 'ignore' });
    cmd = [bin];
  } catch {
    /* no compiler: Node generator */
  }
  const gen = spawn(cmd[0], [...cmd.slice(1), file, String(rate), String(ms), String(wantExecs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  loadPid = gen.pid!;
  const cpu0 = process.cpuUsage();
  const bt0 = cpuSeconds(capture.pid!);
  const t0 = performance.now();
  let out = '';
  gen.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((r) => gen.once('exit', r));
  const loadSecs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1_500)); // drain
  const cpu = process.cpuUsage(cpu0);
  const sensorCpuSecs = (cpu.user + cpu.system) / 1e6 + (cpuSeconds(capture.pid!) - bt0);
  await capture.shutdown();
  const m = /DONE (\d+) (\d+)/.exec(out);
  const doneOpens = Number(m?.[1] ?? 0);
  const doneExecs = Number(m?.[2] ?? 0);
  const expected = doneOpens + doneExecs;
  const captured = opens + execs;
  return {
    // over the load itself (first to last captured open), not the generator's start-up
    capturedEventsPerSec: Math.round(captured / (Number(lastTs - firstTs) / 1e9 || loadSecs)),
    lostRatio: expected ? Math.max(0, 1 - captured / expected) : 1,
    completeFieldsRatio: opens ? complete / opens : 0,
    generatedEvents: expected,
    capturedSpanSec: Number(lastTs - firstTs) / 1e9,
    loadWallSec: loadSecs,
    kernelLost: capture.stats.kernelLost,
    sensorCpuPercent: Math.round((sensorCpuSecs / ((performance.now() - t0) / 1000)) * 100),
  };
}
