import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './http-receiver.js';
import { until } from './wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PEREGRINE = join(ROOT, 'bin/peregrine.js');

/** `peregrine run` as a child process, with its metrics port and everything it wrote. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly metricsPort: number;
  stdout(): string;
  stderr(): string;
  /** GET on the metrics server: status and body. */
  get(path: string): Promise<{ status: number; text: string }>;
  /** The value of one sample of `/metrics` (`name{labels}` exactly as printed), NaN when absent. */
  metric(sample: string): Promise<number>;
  /** SIGTERM (or `signal`), then the exit code and how long exiting took (ms). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  /** SIGKILL when still running (for `finally`). */
  kill(): void;
}

/**
 * Starts `peregrine run --config` with `config` (YAML lines; a `metrics:` block is added on a
 * free loopback port) and waits until it says it is running. Fails with its stderr when it
 * exits first.
 */
export async function startDaemon(
  config: string[],
  opts: { args?: string[]; env?: NodeJS.ProcessEnv; waitFor?: string } = {},
): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'daemon-'));
  const metricsPort = await freePort();
  writeFileSync(join(dir, 'c.yaml'), [...config, 'metrics:', `  listen: 127.0.0.1:${metricsPort}`].join('\n') + '\n');
  const child = spawn(process.execPath, [PEREGRINE, 'run', '--config', join(dir, 'c.yaml'), ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const waitFor = opts.waitFor ?? 'running;';
  await until(() => err.includes(waitFor) || child.exitCode !== null, 30_000);
  if (child.exitCode !== null) throw new Error(`peregrine run exited ${child.exitCode}:\n${err}`);
  const get = async (path: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, text: await res.text() };
  };
  return {
    child,
    dir,
    metricsPort,
    get,
    stdout: () => out,
    stderr: () => err,
    metric: async (sample) => {
      const text = (await get('/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      return line ? Number(line.slice(sample.length + 1)) : NaN;
    },
    stop: async (signal = 'SIGTERM') => {
      const t0 = Date.now();
      if (child.exitCode !== null) return { code: child.exitCode, ms: 0 };
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - t0 };
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
