/**
 * Pod responses on real pods: a private containerd with pods on the test bridge (link-local),
 * real nftables in the pods' own network namespaces, and the fake API server for the durable
 * half. Probes are bounded (one packet, one second) and run in the pods' network namespaces.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FieldKeyTable, type Alert } from '../src/event/index.js';
import { findKubeConfig, KubePods } from '../src/k8s/index.js';
import {
  ISOLATION_TABLE,
  loadPolicies,
  PodIsolations,
  QUARANTINE_LABEL,
  ReleaseServer,
  Responder,
} from '../src/respond/index.js';
import { silentLogger } from '../src/telemetry/index.js';
import { FakeApiServer } from './fake-apiserver/fake-apiserver.js';
import { startContainerd, type RunningPod, type TestContainerd } from './helpers/containerd.js';
import { PEREGRINE } from './helpers/daemon.js';
import { pod as k8sPod } from './helpers/k8s-objects.js';
import { ManualClock } from './helpers/manual-clock.js';
import { until } from './helpers/wait.js';
import { statSync, writeFileSync } from 'node:fs';

let ctd: TestContainerd;
let api: FakeApiServer;
let pods: KubePods;
const dir = mkdtempSync(join(tmpdir(), 'peregrine-isolate-'));
const udpServers: ChildProcess[] = [];

interface TestPod extends RunningPod {
  readonly name: string;
  readonly ip: string;
  readonly pid: number;
}

/** A pod serving TCP 8080 ("ok") and UDP 9090 (echo), known to the fake API server with the same UID. */
async function servingPod(name: string): Promise<TestPod> {
  const p = await ctd.runPod({
    name,
    namespace: 'shop',
    labels: { app: 'web' },
    command: [
      '/bin/sh',
      '-c',
      "printf '#!/bin/sh\\necho ok\\n' > /ok.sh; chmod +x /ok.sh; nc -ll -p 8080 -e /ok.sh & sleep 3600",
    ],
  });
  const status = await ctd.cri.podSandboxStatus(p.podId);
  const pid = (await ctd.cri.podSandboxPid('shop', name))!;
  const ip = status.status!.network!.ip;
  api.put(k8sPod({ namespace: 'shop', name, node: 'node-1', uid: p.uid, labels: { app: 'web' } }));
  // UDP echo in the pod's network namespace (busybox's nc has no UDP)
  const udp = spawn(
    'nsenter',
    [
      `--net=/proc/${pid}/ns/net`,
      'python3',
      '-c',
      'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("0.0.0.0",9090))\nwhile True:\n  d,a=s.recvfrom(100)\n  s.sendto(d,a)',
    ],
    { stdio: 'ignore' },
  );
  udpServers.push(udp);
  const pod = { ...p, name, ip, pid };
  // serving once the host's namespace reaches it... from its own namespace (the listeners start with the pod)
  const end = Date.now() + 10_000;
  while (!(await probe(pod, 'tcp', ip)) || !(await probe(pod, 'udp', ip))) {
    if (Date.now() > end) throw new Error(`pod ${name} does not serve TCP 8080 and UDP 9090 on ${ip}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return pod;
}

function run(cmd: string, args: string[], timeout = 5_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    ),
  );
}

/** The CLI, asynchronously: the agent's socket is served by this very process. */
function peregrine(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return run(process.execPath, [PEREGRINE, ...args], 20_000);
}

/** One bounded probe from `from`'s network namespace: ICMP, TCP or UDP to `ip`; true when answered. */
async function probe(from: TestPod, kind: 'icmp' | 'tcp' | 'udp', ip: string): Promise<boolean> {
  const ns = `--net=/proc/${from.pid}/ns/net`;
  if (kind === 'icmp') return (await run('nsenter', [ns, '/bin/busybox', 'ping', '-c1', '-W1', ip])).code === 0;
  if (kind === 'tcp') return (await run('nsenter', [ns, '/bin/busybox', 'nc', '-w1', ip, '8080'])).out.includes('ok');
  const py = `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(1)\ns.sendto(b"hi",("${ip}",9090))\nprint(s.recv(10).decode())`;
  return (await run('nsenter', [ns, 'python3', '-c', py])).out.includes('hi');
}

/**
 * Every probe both ways. `tries`: a probe counts as answered when any of that many tries is (a
 * first packet may wait for ARP on a loaded machine); a cut-off pod gets one try, which must fail.
 */
async function connectivity(a: TestPod, b: TestPod, tries = 3): Promise<Record<string, boolean>> {
  const p = async (from: TestPod, kind: 'icmp' | 'tcp' | 'udp', ip: string): Promise<boolean> => {
    for (let i = 0; i < tries; i++) if (await probe(from, kind, ip)) return true;
    return false;
  };
  return {
    'icmp a→b': await p(a, 'icmp', b.ip),
    'icmp b→a': await p(b, 'icmp', a.ip),
    'tcp a→b': await p(a, 'tcp', b.ip),
    'tcp b→a': await p(b, 'tcp', a.ip),
    'udp a→b': await p(a, 'udp', b.ip),
    'udp b→a': await p(b, 'udp', a.ip),
  };
}

beforeAll(async () => {
  ctd = await startContainerd();
  api = new FakeApiServer();
  await api.start();
  pods = new KubePods(findKubeConfig(api.kubeconfig(dir))!);
}, 120_000);
afterAll(async () => {
  for (const u of udpServers) u.kill('SIGKILL');
  await api?.stop();
  await ctd?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function responder(policy: string, isolations: PodIsolations): Responder {
  const table = new FieldKeyTable();
  const r = new Responder({
    table,
    services: {
      pods,
      protectedPids: () => new Set(),
      procRoot: '/proc',
      isolations,
      stopPodSandbox: async (ns, name) => {
        const id = await ctd.cri.readyPodSandbox(ns, name);
        if (id) await ctd.cri.stopPodSandbox(id);
        return id !== undefined;
      },
    },
    log: silentLogger(),
    metrics: { outcome: () => undefined, latency: () => undefined },
    audit: () => undefined,
    hostname: 'node-1',
    dryRun: false,
    protectedNamespaces: ['kube-system'],
    protectedLabels: {},
    budget: { max: 20, windowSeconds: 60 },
    namespaceBudget: { max: 20, windowSeconds: 60 },
    dedupSeconds: 0,
    minHealthyReplicas: 0,
  });
  const f = join(dir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, policy);
  const load = loadPolicies([f], table);
  expect(load.diagnostics.errors).toEqual([]);
  r.setPolicies(load.policies);
  return r;
}

function alertFor(p: TestPod): Alert {
  return {
    time: new Date().toISOString(),
    rule: 'Terminal shell in container',
    priority: 'Notice',
    source: 'syscall',
    tags: [],
    hostname: 'node-1',
    output: '',
    output_fields: { 'k8s.ns.name': 'shop', 'k8s.pod.name': p.name, 'k8s.pod.uid': p.uid },
  };
}

const ISOLATE = `- response: isolate
  match: {rules: [Terminal shell in container]}
  owner_kinds: [Pod, unknown]
  actions: [{action: pod:isolate, parameters: {ttl: 10m}}]
`;

describe('pod:isolate', () => {
  it('cuts one pod off (ICMP, TCP, UDP both ways), keeps its loopback and the other pods; the label and NetworkPolicy are set; release restores it', async () => {
    const a = await servingPod('iso-a');
    const b = await servingPod('iso-b');
    const c = await servingPod('iso-c');
    const all = {
      'icmp a→b': true,
      'icmp b→a': true,
      'tcp a→b': true,
      'tcp b→a': true,
      'udp a→b': true,
      'udp b→a': true,
    };
    expect(await connectivity(a, b)).toEqual(all);

    const isolations = new PodIsolations({
      stateFile: join(dir, 'isolations.json'),
      pods,
      netnsPid: (ns, name) => ctd.cri.podSandboxPid(ns, name),
      log: silentLogger(),
    });
    const r = responder(ISOLATE, isolations);
    const t0 = Date.now();
    r.onAlert(alertFor(a));
    await r.settled();
    expect(r.last[0]).toMatchObject({ action: 'pod:isolate', outcome: 'applied' });
    const none = Object.fromEntries(Object.keys(all).map((k) => [k, false]));
    expect(await connectivity(a, b, 1)).toEqual(none);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(await probe(a, 'icmp', '127.0.0.1')).toBe(true); // loopback inside the pod still works
    expect(await connectivity(b, c)).toEqual(all); // the rest of the workload keeps serving
    // the host's ruleset is untouched: the table lives in the pod's namespace only
    expect((await run('nft', ['list', 'tables'])).out).not.toContain(ISOLATION_TABLE);
    // the durable half, through the API
    expect(api.get('Pod', 'shop', 'iso-a')!.metadata.labels).toMatchObject({ [QUARANTINE_LABEL]: 'true' });
    const np = api.get('NetworkPolicy', 'shop', 'peregrine-quarantine') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: unknown;
    };
    expect(np.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'peregrine' });
    expect(np.spec).toEqual({
      podSelector: { matchLabels: { [QUARANTINE_LABEL]: 'true' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [],
    });

    // release through the agent's socket, with the CLI
    const socket = join(dir, 'responses.sock');
    const server = new ReleaseServer(socket, isolations, silentLogger());
    await server.start();
    expect(statSync(socket).mode & 0o777).toBe(0o600); // root on the node only
    try {
      const rel = await peregrine(['responses', 'release', '--pod', 'shop/iso-a', '--socket', socket]);
      expect(rel.code, rel.err).toBe(0);
      expect(await connectivity(a, b)).toEqual(all);
      expect(api.get('Pod', 'shop', 'iso-a')!.metadata.labels).not.toHaveProperty(QUARANTINE_LABEL);
      const again = await peregrine(['responses', 'release', '--pod', 'shop/iso-a', '--socket', socket]);
      expect(again.code).toBe(1);
      expect(again.err).toContain('is not isolated');
    } finally {
      await server.shutdown();
    }
  }, 120_000);

  it('the TTL releases it; an agent restart re-applies what is still due and releases what expired meanwhile', async () => {
    const a = await servingPod('ttl-a');
    const b = await servingPod('ttl-b');
    const clock = new ManualClock();
    const state = join(dir, 'ttl-isolations.json');
    const isolations = new PodIsolations({
      stateFile: state,
      pods,
      netnsPid: (ns, name) => ctd.cri.podSandboxPid(ns, name),
      log: silentLogger(),
      clock,
    });
    const r = responder(ISOLATE, isolations);
    r.onAlert(alertFor(a));
    await r.settled();
    expect(await probe(a, 'tcp', b.ip)).toBe(false);

    // a restart: the table is gone (say, the pod's netns was rebuilt); the new agent re-applies it
    await run('nsenter', [`--net=/proc/${a.pid}/ns/net`, 'nft', 'delete', 'table', 'inet', ISOLATION_TABLE]);
    expect(await probe(a, 'tcp', b.ip)).toBe(true);
    isolations.shutdown();
    const restarted = new PodIsolations({
      stateFile: state,
      pods,
      netnsPid: (ns, name) => ctd.cri.podSandboxPid(ns, name),
      log: silentLogger(),
      clock,
    });
    await restarted.start();
    expect(await probe(a, 'tcp', b.ip)).toBe(false);

    // the TTL (10 minutes, on the test's clock)
    await clock.advance(10 * 60_000 + 1);
    await until(() => restarted.list().length === 0, 5_000);
    await until(() => !(api.get('Pod', 'shop', 'ttl-a')!.metadata.labels ?? {})[QUARANTINE_LABEL], 5_000);
    expect(await probe(a, 'tcp', b.ip)).toBe(true);

    // expired while down: released at start
    await r.settled();
    const r2 = responder(ISOLATE, restarted);
    r2.onAlert(alertFor(a));
    await r2.settled();
    expect(await probe(a, 'tcp', b.ip)).toBe(false);
    restarted.shutdown();
    await clock.advance(11 * 60_000);
    const third = new PodIsolations({
      stateFile: state,
      pods,
      netnsPid: (ns, name) => ctd.cri.podSandboxPid(ns, name),
      log: silentLogger(),
      clock,
    });
    await third.start();
    expect(third.list()).toEqual([]);
    expect(await probe(a, 'tcp', b.ip)).toBe(true);
  }, 120_000);
});

describe('pod:stop', () => {
  it("stops the pod's containers at once through the runtime, then deletes it through the API", async () => {
    const p = await servingPod('stop-a');
    const isolations = new PodIsolations({
      stateFile: join(dir, 'stop.json'),
      pods,
      netnsPid: async () => undefined,
      log: silentLogger(),
    });
    const r = responder(
      `- response: stop\n  match: {rules: [Terminal shell in container]}\n  owner_kinds: [Pod, unknown]\n  actions: [{action: pod:stop}]\n`,
      isolations,
    );
    r.onAlert(alertFor(p));
    await r.settled();
    expect(r.last[0]).toMatchObject({ action: 'pod:stop', outcome: 'applied' });
    const containers = await ctd.cri.listContainers();
    expect(containers.find((c) => c.id === p.containerId)?.state).toBe('CONTAINER_EXITED');
    const del = api.requests.filter((q) => q.verb === 'delete' && q.name === 'stop-a');
    expect(del[0].body).toMatchObject({ gracePeriodSeconds: 0, preconditions: { uid: p.uid } });
  }, 60_000);
});
