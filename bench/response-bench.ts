/**
 * Responses (`npm run bench -- --only response`):
 * - `killP99Ms`: `peregrine run --responses` with the bundled eBPF sensor and a kill policy;
 *   100 processes each open /etc/shadow and wait; for each, from the open's kernel timestamp to
 *   the SIGKILL sent (the audit alert's `response.latency_ms`), p50 and p99. Every victim must die.
 * - `isolateP99Ms`: the node-local half of `pod:isolate` — the nftables table installed in a
 *   network namespace (a fresh `ip netns` per run, as a pod's), 100 runs, p50 and p99. The API half
 *   (label, NetworkPolicy) is not on the path that stops traffic.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/defaults.js';
import { isolateNetns } from '../src/respond/index.js';

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const round = (x: number): number => Math.round(x * 100) / 100;

async function killLatencies(n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'response-bench-'));
  const policy = join(dir, 'kill.yaml');
  writeFileSync(
    policy,
    '- response: kill\n  match: {rules: [Read sensitive file]}\n  actions: [{action: process:kill}]\n',
  );
  const daemon = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/peregrine.js'), 'run', '--responses', policy], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PEREGRINE_LOG_LEVEL: 'warn',
      PEREGRINE_METRICS__LISTEN: '127.0.0.1:0',
      PEREGRINE_RESPONSES__SOCKET: join(dir, 'responses.sock'),
      PEREGRINE_RESPONSES__STATE_DIR: dir,
      PEREGRINE_RESPONSES__BUDGET__MAX: '1000', // the default budget (20 a minute) would stop the run
      PEREGRINE_SOURCES: JSON.stringify([{ type: 'sensor', address: `unix://${dir}/sensor.sock` }]),
    },
  });
  let out = '';
  let err = '';
  daemon.stdout.on('data', (c: Buffer) => (out += c.toString()));
  daemon.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    const end = Date.now() + 60_000;
    while (!err.includes('running;')) {
      if (daemon.exitCode !== null || Date.now() > end)
        throw new Error(`bench response: the daemon did not start:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1_000)); // the sensor attached
    const latencies: number[] = [];
    for (let i = 0; i < n; i++) {
      const victim = spawn('/bin/sh', ['-c', 'exec 3</etc/shadow; exec sleep 30'], { stdio: 'ignore' });
      const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        victim.once('exit', (c, s) => r([c, s])),
      );
      if (sig !== 'SIGKILL')
        throw new Error(
          `bench response: victim ${victim.pid} was not killed (exit ${code}, ${sig}); daemon said:\n${err.slice(-2000)}\n${out.slice(-2000)}`,
        );
      const want = `"proc.pid":${victim.pid},`;
      const wait = Date.now() + 5_000;
      let line: string | undefined;
      while (
        !(line = out.split('\n').find((l) => l.includes('Peregrine response: process:kill') && l.includes(want)))
      ) {
        if (Date.now() > wait) throw new Error(`bench response: no audit for pid ${victim.pid}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const f = (JSON.parse(line) as { output_fields: Record<string, unknown> }).output_fields;
      latencies.push(Number(f['response.latency_ms']));
    }
    return latencies;
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode === null ? daemon.once('exit', r) : r(null)));
  }
}

async function isolateLatencies(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `peregrine-bench-${process.pid}-${i}`;
    execFileSync('ip', ['netns', 'add', name]);
    const holder = spawn('ip', ['netns', 'exec', name, 'sleep', '30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const pid = holder.pid!; // `ip netns exec` execs the command: this is the process in the namespace
      const t0 = performance.now();
      await isolateNetns(pid, false);
      out.push(performance.now() - t0);
    } finally {
      holder.kill('SIGKILL');
      execFileSync('ip', ['netns', 'delete', name]);
    }
  }
  return out;
}

export async function responseSuite(): Promise<Record<string, number>> {
  const kill = await killLatencies(100);
  const iso = await isolateLatencies(100);
  return {
    killP50Ms: round(quantile(kill, 0.5)),
    killP99Ms: round(quantile(kill, 0.99)),
    isolateP50Ms: round(quantile(iso, 0.5)),
    isolateP99Ms: round(quantile(iso, 0.99)),
  };
}
