/**
 * Responses (`npm run bench -- --only response`):
 * - `killP99Ms`: `peregrine run --responses` with the bundled eBPF sensor and a kill policy;
 *   100 processes each open /etc/shadow and wait; for each, from the open's kernel timestamp to
 *   the SIGKILL sent (the audit alert's `response.latency_ms`), p50 and p99. Every victim must die.
 * - `isolateStepP99Ms`: the node-local half of `pod:isolate` alone — the nftables table installed
 *   in a network namespace (a fresh `ip netns` per run, as a pod's), 100 runs.
 * - `isolateP99Ms`: `pod:isolate` from the event's kernel timestamp to the node's table installed
 *   (`isolateWithApiP99Ms`: to the label and NetworkPolicy done too): a "pod" made of a network namespace and a cgroup named like a containerd
 *   container, a CRI server (this process, unix socket) that knows it and its sandbox's pid, and
 *   a minimal API server (loopback) for the guards' pod read, the label and the NetworkPolicy; the
 *   daemon with the bundled sensor, runtime and API enrichment, and an isolate policy. 100 runs.
 */
import * as grpc from '@grpc/grpc-js';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../src/defaults.js';
import { isolateNetns } from '../src/respond/index.js';
import { loopbackKubeconfig } from './k8s-api-bench.js';
import { codec, grpcMethod, loadProtoRoot } from '../src/transport/index.js';

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const round = (x: number): number => Math.round(x * 100) / 100;

/** `peregrine run --responses POLICY` with the bundled sensor, in `dir`; resolves once it runs and the sensor attached. */
async function responsesDaemon(
  dir: string,
  policy: string,
  env: Record<string, string>,
): Promise<{ out: () => string; err: () => string; stop: () => Promise<void> }> {
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policy);
  const daemon = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/peregrine.js'), 'run', '--responses', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PEREGRINE_LOG_LEVEL: 'warn',
      PEREGRINE_METRICS__LISTEN: '127.0.0.1:0',
      PEREGRINE_RESPONSES__SOCKET: join(dir, 'responses.sock'),
      PEREGRINE_RESPONSES__STATE_DIR: dir,
      PEREGRINE_RESPONSES__BUDGET__MAX: '1000', // the default budget (20 a minute) would stop the run
      PEREGRINE_SOURCES: JSON.stringify([{ type: 'sensor', address: `unix://${dir}/sensor.sock` }]),
      ...env,
    },
  });
  let out = '';
  let err = '';
  daemon.stdout.on('data', (c: Buffer) => (out += c.toString()));
  daemon.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const stop = async (): Promise<void> => {
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode === null ? daemon.once('exit', r) : r(null)));
  };
  const end = Date.now() + 60_000;
  while (!err.includes('running;')) {
    if (daemon.exitCode !== null || Date.now() > end) {
      await stop();
      throw new Error(`bench response: the daemon did not start:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1_000)); // the sensor attached
  return { out: () => out, err: () => err, stop };
}

async function killLatencies(n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'response-bench-'));
  const { out, err, stop } = await responsesDaemon(
    dir,
    '- response: kill\n  match: {rules: [Read sensitive file]}\n  actions: [{action: process:kill}]\n',
    {},
  );
  try {
    const latencies: number[] = [];
    for (let i = 0; i < n; i++) {
      const victim = spawn('/bin/sh', ['-c', 'exec 3</etc/shadow; exec sleep 30'], { stdio: 'ignore' });
      const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        victim.once('exit', (c, s) => r([c, s])),
      );
      if (sig !== 'SIGKILL')
        throw new Error(
          `bench response: victim ${victim.pid} was not killed (exit ${code}, ${sig}); daemon said:\n${err().slice(-2000)}\n${out().slice(-2000)}`,
        );
      const want = `"proc.pid":${victim.pid},`;
      const wait = Date.now() + 5_000;
      let line: string | undefined;
      while (
        !(line = out()
          .split('\n')
          .find((l) => l.includes('Peregrine response: process:kill') && l.includes(want)))
      ) {
        if (Date.now() > wait) throw new Error(`bench response: no audit for pid ${victim.pid}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const f = (JSON.parse(line) as { output_fields: Record<string, unknown> }).output_fields;
      latencies.push(Number(f['response.latency_ms']));
    }
    return latencies;
  } finally {
    await stop();
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
  const step = await isolateLatencies(100);
  const { node: iso, full } = await isolateFromEvent(100);
  if (process.env.BENCH_VERBOSE) process.stderr.write(`isolate latencies: ${iso.map(round).join(' ')}\n`);
  return {
    killP50Ms: round(quantile(kill, 0.5)),
    killP99Ms: round(quantile(kill, 0.99)),
    isolateP50Ms: round(quantile(iso, 0.5)),
    isolateP99Ms: round(quantile(iso, 0.99)),
    isolateWithApiP50Ms: round(quantile(full, 0.5)),
    isolateWithApiP99Ms: round(quantile(full, 0.99)),
    isolateStepP50Ms: round(quantile(step, 0.5)),
    isolateStepP99Ms: round(quantile(step, 0.99)),
  };
}

const CID = 'b'.repeat(56) + 'c0ffee00';
const SID = 'a'.repeat(56) + 'sandbox0'.replace(/[^0-9a-f]/g, '0');
const POD_UID = 'uid-bench-pod';

/** A CRI server that knows one running container of pod bench/web-0, whose sandbox is `pid`. */
async function benchCri(socket: string, pid: () => number): Promise<grpc.Server> {
  const root = loadProtoRoot();
  const m = (name: string): grpc.MethodDefinition<object, object> =>
    grpcMethod(
      `/runtime.v1.RuntimeService/${name}`,
      codec<object>(root, `runtime.v1.${name}Request`),
      codec<object>(root, `runtime.v1.${name}Response`),
    );
  const labels = {
    'io.kubernetes.pod.name': 'web-0',
    'io.kubernetes.pod.namespace': 'bench',
    'io.kubernetes.pod.uid': POD_UID,
    'io.kubernetes.container.name': 'app',
  };
  const sandbox = {
    id: SID,
    metadata: { name: 'web-0', namespace: 'bench', uid: POD_UID, attempt: 0 },
    state: 0,
    labels,
  };
  const server = new grpc.Server();
  server.addService(
    {
      Version: m('Version'),
      ListContainers: m('ListContainers'),
      ListPodSandbox: m('ListPodSandbox'),
      ContainerStatus: m('ContainerStatus'),
      PodSandboxStatus: m('PodSandboxStatus'),
    },
    {
      Version: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { runtime_name: 'bench-cri', runtime_version: '1', runtime_api_version: 'v1' }),
      ListContainers: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, {
          containers: [
            {
              id: CID,
              pod_sandbox_id: SID,
              metadata: { name: 'app' },
              image: { image: 'registry.example/web:1' },
              state: 1,
              labels,
            },
          ],
        }),
      ListPodSandbox: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { items: [sandbox] }),
      ContainerStatus: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { status: { id: CID } }),
      PodSandboxStatus: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { status: sandbox, info: { info: JSON.stringify({ pid: pid() }) } }),
    },
  );
  await new Promise<void>((res, rej) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())),
  );
  return server;
}

/** The API calls the daemon makes for an isolation: pods list/watch (empty), node, pod read, patch, NetworkPolicy, Events. */
async function benchApi(dir: string): Promise<{ server: Server; kubeconfig: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    req.resume();
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    const body =
      url.pathname === '/api/v1/pods'
        ? { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }
        : url.pathname.includes('/pods/')
          ? { metadata: { name: 'web-0', namespace: 'bench', uid: POD_UID, labels: {} } }
          : { metadata: { name: 'x' } };
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kubeconfig = loopbackKubeconfig(dir, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return { server, kubeconfig };
}

async function isolateFromEvent(n: number): Promise<{ node: number[]; full: number[] }> {
  const full: number[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'response-bench-iso-'));
  const ns = `peregrine-bench-pod-${process.pid}`;
  // the sensor reads the container id from the unified hierarchy's or the cpu controller's cgroup,
  // where runtimes put every container (cgroup v1 here: the cpu controller)
  const base = existsSync('/sys/fs/cgroup/cpu/cgroup.procs') ? '/sys/fs/cgroup/cpu' : '/sys/fs/cgroup';
  const cgroup = `${base}/peregrine-bench-${process.pid}/${CID}`;
  execFileSync('ip', ['netns', 'add', ns]);
  mkdirSync(cgroup, { recursive: true });
  const holder = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdio: 'ignore' });
  const cri = await benchCri(join(dir, 'cri.sock'), () => holder.pid!);
  const api = await benchApi(dir);
  const { out, err, stop } = await responsesDaemon(
    dir,
    '- response: isolate\n  match: {rules: [Read sensitive file]}\n  actions: [{action: pod:isolate, parameters: {ttl: 10m}}]\n',
    {
      KUBECONFIG: api.kubeconfig,
      PEREGRINE_NODE__NAME: 'bench-node',
      PEREGRINE_RUNTIME__SOCKET: join(dir, 'cri.sock'),
      PEREGRINE_RESPONSES__NAMESPACE_BUDGET__MAX: '1000',
      PEREGRINE_RESPONSES__DEDUP_SECONDS: '0',
      PEREGRINE_RESPONSES__MIN_HEALTHY_REPLICAS: '0',
    },
  );
  try {
    const latencies: number[] = [];
    for (let i = 0; i < n; i++) {
      const seen = out()
        .split('\n')
        .filter((l) => l.includes('Peregrine response: pod:isolate')).length;
      // a process of the "pod": in its cgroup (named like a containerd container) and its network namespace
      // (`ip netns exec` remounts /sys: join the cgroup first, then the network namespace)
      const victim = spawn(
        'sh',
        ['-c', `echo $$ > ${cgroup}/cgroup.procs; exec ip netns exec ${ns} sh -c 'exec 3</etc/shadow; exec sleep 5'`],
        { stdio: 'ignore' },
      );
      const wait = Date.now() + 10_000;
      let lines: string[] = [];
      while (
        (lines = out()
          .split('\n')
          .filter((l) => l.includes('Peregrine response: pod:isolate'))).length <= seen
      ) {
        if (Date.now() > wait)
          throw new Error(
            `bench response: no isolation audit; daemon said:\n${err().slice(-2000)}\n${out().slice(-2000)}`,
          );
        await new Promise((r) => setTimeout(r, 5));
      }
      victim.kill('SIGKILL');
      const f = (JSON.parse(lines[lines.length - 1]) as { output_fields: Record<string, unknown> }).output_fields;
      if (f['response.outcome'] !== 'applied')
        throw new Error(
          `bench response: isolation ${String(f['response.outcome'])}: ${String(f['response.reason'])}\n${
            out()
              .split('\n')
              .filter((l) => l.includes('"rule":"Read sensitive file"'))
              .slice(-1)[0]
          }\n${err().slice(-1500)}`,
        );
      latencies.push(Number(f['isolation.node_latency_ms']));
      full.push(Number(f['response.latency_ms']));
    }
    return { node: latencies, full };
  } finally {
    await stop();
    holder.kill('SIGKILL');
    cri.forceShutdown();
    api.server.closeAllConnections();
    api.server.close();
    execFileSync('ip', ['netns', 'delete', ns]);
    try {
      rmdirSync(cgroup);
      rmdirSync(dirname(cgroup));
    } catch {
      /* still in use: left to the next boot */
    }
  }
}
