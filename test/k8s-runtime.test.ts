/**
 * Container metadata from a real container runtime: a private containerd (CRI plugin, runc, CNI)
 * with real pods created as kubelet does.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriClient, RuntimeMetadata } from '../src/enrich/index.js';
import { containerIdFromCgroup } from '../src/sensor/index.js';
import { startContainerd, type TestContainerd } from './helpers/containerd.js';
import { PEREGRINE } from './helpers/daemon.js';
import { freePort } from './helpers/http-receiver.js';
import { until, untilAsync } from './helpers/wait.js';
import { requireUpstream, UPSTREAM } from './helpers/upstream.js';
import { FakeApiServer } from './fake-apiserver/fake-apiserver.js';
import { deployment, pod as k8sPod, replicaSet } from './helpers/k8s-objects.js';

let ctd: TestContainerd;
beforeAll(async () => {
  ctd = await startContainerd();
}, 120_000);
afterAll(async () => {
  await ctd?.stop();
}, 60_000);

describe('CRI over the runtime socket (a real containerd)', () => {
  it('lists a running pod and its container with kubelet labels; its processes carry the container id in their cgroup', async () => {
    const pod = await ctd.runPod({ name: 'web-7d9c', namespace: 'shop', labels: { app: 'web' } });
    expect((await ctd.cri.version()).runtime_name).toBe('containerd');
    const containers = await ctd.cri.listContainers();
    const c = containers.find((x) => x.id === pod.containerId);
    expect(c).toMatchObject({ pod_sandbox_id: pod.podId, metadata: { name: 'main' }, state: 'CONTAINER_RUNNING' });
    expect(c!.labels).toMatchObject({
      'io.kubernetes.pod.name': 'web-7d9c',
      'io.kubernetes.pod.namespace': 'shop',
      'io.kubernetes.container.name': 'main',
    });
    const sandboxes = await ctd.cri.listPodSandboxes();
    expect(sandboxes.find((s) => s.id === pod.podId)).toMatchObject({
      metadata: { name: 'web-7d9c', namespace: 'shop', uid: pod.uid },
      labels: { app: 'web' },
    });
    const status = await ctd.cri.containerStatus(pod.containerId);
    const info = JSON.parse(status.info.info ?? '{}') as { pid?: number };
    expect(info.pid).toBeGreaterThan(0);
    const cgroup = readFileSync(`/proc/${info.pid}/cgroup`, 'utf8');
    const line = cgroup.split('\n').find((l) => l.includes('kubepods'));
    expect(line, cgroup).toBeDefined();
    expect(containerIdFromCgroup(line!)).toBe(pod.containerId.slice(0, 12));
  }, 60_000);
});

describe('runtime metadata: lookups by container id, kept current by re-listing', () => {
  it('a pod running at start, one started later (found on the first miss), one removed (still resolvable)', async () => {
    const before = await ctd.runPod({
      name: 'api-5f6b',
      namespace: 'shop',
      labels: { app: 'api', tier: 'back' },
      container: 'api',
      mounts: [{ hostPath: '/etc', containerPath: '/host-etc', readonly: true }],
    });
    // as with CRI-O, which announces nothing: re-listing on a miss is what keeps it current
    const rt = new RuntimeMetadata(new CriClient(ctd.socket), { relistMs: 0, followEvents: false });
    await rt.start();
    const m = rt.lookup(before.containerId.slice(0, 12));
    expect(m).toMatchObject({
      id: before.containerId,
      name: 'api',
      image: 'peregrine.test/busybox:1',
      imageRepository: 'peregrine.test/busybox',
      imageTag: '1',
      podName: 'api-5f6b',
      podNamespace: 'shop',
      podUid: before.uid,
      podLabels: { app: 'api', tier: 'back' },
      privileged: false,
    });
    expect(m!.mounts).toEqual([{ source: '/etc', dest: '/host-etc', readonly: true }]);
    expect(rt.lookup(before.containerId)).toBe(m);
    // the pod's sandbox (pause) process resolves to the pod
    expect(rt.lookup(before.podId.slice(0, 12))).toMatchObject({
      podName: 'api-5f6b',
      podNamespace: 'shop',
      podLabels: { app: 'api', tier: 'back' },
    });
    const later = await ctd.runPod({ name: 'job-x1', namespace: 'batch' });
    expect(rt.lookup(later.containerId.slice(0, 12))).toBeUndefined(); // a miss re-lists
    await rt.relist();
    expect(rt.lookup(later.containerId.slice(0, 12))).toMatchObject({ podName: 'job-x1', podNamespace: 'batch' });
    await ctd.removePod(before.podId);
    await rt.relist();
    expect(rt.lookup(before.containerId.slice(0, 12))).toMatchObject({ podName: 'api-5f6b' }); // recently removed
    expect(rt.stats).toMatchObject({ recent: 2, listFailures: 0 }); // the container and its pod's sandbox
    expect(rt.stats.hits).toBeGreaterThanOrEqual(4);
    await rt.shutdown();
  }, 60_000);
});

describe("containerd's events service", () => {
  it('a pod started later is known before any event of it is looked up (no miss, no polling); containerd 1.6 lacks CRI events, so its own are followed', async () => {
    const rt = new RuntimeMetadata(new CriClient(ctd.socket), { relistMs: 1e9 }); // misses never re-list here
    await rt.start();
    await until(() => rt.feed === 'containerd events', 5_000); // after CRI GetContainerEvents said UNIMPLEMENTED
    const lists = rt.stats.lists;
    const pod = await ctd.runPod({ name: 'evented-1', namespace: 'ops', labels: { app: 'evented' } });
    await untilAsync(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return rt.stats.lists > lists && rt.lookup(pod.containerId.slice(0, 12)) !== undefined;
    }, 10_000);
    expect(rt.lookup(pod.containerId)).toMatchObject({ podName: 'evented-1', podLabels: { app: 'evented' } });
    expect(rt.stats.misses).toBe(0);
    await rt.shutdown();
  }, 60_000);
});

describe('the runtime restarts', () => {
  it('lookups keep serving the cache while containerd is down; after it is back, a re-list finds pods started since', async () => {
    const pod = await ctd.runPod({ name: 'steady-1', namespace: 'ops' });
    const rt = new RuntimeMetadata(new CriClient(ctd.socket), { relistMs: 0 });
    await rt.start();
    await ctd.restart();
    expect(rt.lookup(pod.containerId.slice(0, 12))).toMatchObject({ podName: 'steady-1' });
    const after = await ctd.runPod({ name: 'fresh-2', namespace: 'ops' });
    await rt.relist();
    expect(rt.lookup(after.containerId.slice(0, 12))).toMatchObject({ podName: 'fresh-2', podNamespace: 'ops' });
    expect(rt.lookup(pod.containerId.slice(0, 12))).toMatchObject({ podName: 'steady-1' }); // pods survive a runtime restart
    await rt.shutdown();
  }, 60_000);
});

/** Runs `peregrine run` on embedded defaults with the test runtime (and `env`); `fn` gets its stdout so far. */
async function withDaemon(
  env: Record<string, string>,
  fn: (out: () => string, err: () => string, metricsPort: number) => Promise<void>,
  args: readonly string[] = [],
): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, [PEREGRINE, 'run', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PEREGRINE_LOG_LEVEL: 'info',
      PEREGRINE_METRICS__LISTEN: `127.0.0.1:${port}`,
      PEREGRINE_RUNTIME__SOCKET: ctd.socket,
      // its own sensor socket: other tests run peregrine on the default one at the same time
      PEREGRINE_SOURCES: JSON.stringify([{ type: 'sensor', address: `unix://${ctd.dir}/sensor.sock` }]),
      ...env,
    },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await until(() => err.includes('running;') || child.exitCode !== null, 60_000);
    expect(child.exitCode, err).toBeNull();
    await fn(
      () => out,
      () => err,
      port,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
  }
}

/** The first alert of `rule` (default "Read sensitive file") for a container (by its 12-character id), once it came. */
async function shadowAlert(
  out: () => string,
  err: () => string,
  containerId: string,
  rule = 'Read sensitive file',
): Promise<Record<string, unknown>> {
  const find = (): { output_fields: Record<string, unknown> } | undefined =>
    out()
      .split('\n')
      .filter((l) => l.includes(`"rule":${JSON.stringify(rule)}`))
      .map((l) => JSON.parse(l) as { output_fields: Record<string, unknown> })
      .find((a) => a.output_fields['container.id'] === containerId.slice(0, 12));
  await until(() => find() !== undefined, 20_000).catch(() => {
    throw new Error(
      `no alert for container ${containerId.slice(0, 12)}; daemon said:\n${err().slice(-3000)}\nalerts:\n${out().slice(-3000)}`,
    );
  });
  return find()!.output_fields;
}

describe('peregrine run on embedded defaults, with the runtime (the main job, enriched)', () => {
  it("cat /etc/shadow inside a pod's container alerts with the pod, namespace, container id and name, and image repository", async () => {
    await withDaemon({}, async (out, err, port) => {
      expect(err()).toMatch(/no Kubernetes API configuration.*pod metadata from the API is off/);
      const pod = await ctd.runPod({
        name: 'shell-6c8d',
        namespace: 'prod',
        labels: { app: 'shell' },
        container: 'toolbox',
        command: ['/bin/sh', '-c', 'sleep 2; cat /etc/shadow > /dev/null; sleep 3600'],
      });
      expect(await shadowAlert(out, err, pod.containerId)).toMatchObject({
        'k8s.pod.name': 'shell-6c8d',
        'k8s.ns.name': 'prod',
        'container.id': pod.containerId.slice(0, 12),
        'container.name': 'toolbox',
        'container.image.repository': 'peregrine.test/busybox',
        'proc.name': 'cat',
        'fd.name': '/etc/shadow',
      });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^peregrine_events_enriched_total\{outcome="enriched"\} [1-9]/m);
    });
  }, 120_000);

  it('with a kubeconfig (the fake API server): the alert also names the workload, a Deployment through its ReplicaSet, and the node', async () => {
    const api = new FakeApiServer();
    await api.start();
    try {
      const uid = randomUUID();
      const d = api.put(deployment('shop', 'web'));
      const rs = api.put(replicaSet('shop', 'web-5f7c9', { name: 'web', uid: d.metadata.uid! }));
      api.put(
        k8sPod({
          namespace: 'shop',
          name: 'web-5f7c9-qx2lp',
          node: 'e2e-node',
          uid,
          owner: { kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid! },
          labels: { app: 'web' },
        }),
      );
      const kubeconfig = api.kubeconfig(ctd.dir);
      await withDaemon({ KUBECONFIG: kubeconfig, PEREGRINE_NODE__NAME: 'e2e-node' }, async (out, err) => {
        expect(err()).toContain('Kubernetes API metadata on');
        const pod = await ctd.runPod({
          name: 'web-5f7c9-qx2lp',
          namespace: 'shop',
          uid,
          labels: { app: 'web' },
          container: 'web',
          command: ['/bin/sh', '-c', 'sleep 2; cat /etc/shadow > /dev/null; sleep 3600'],
        });
        expect(await shadowAlert(out, err, pod.containerId)).toMatchObject({
          'k8s.pod.name': 'web-5f7c9-qx2lp',
          'k8s.ns.name': 'shop',
          'k8s.workload.kind': 'Deployment',
          'k8s.workload.name': 'web',
          'k8s.node.name': 'e2e-node',
          'container.name': 'web',
          'container.image.repository': 'peregrine.test/busybox',
        });
        // one list and one watch of this node's pods, one owner read: never a request per event
        const pods = api.requests.filter((r) => r.resource === 'pods');
        expect(pods.filter((r) => r.verb === 'list')).toHaveLength(1);
        expect(pods.every((r) => r.query.fieldSelector === 'spec.nodeName=e2e-node')).toBe(true);
        expect(api.requests.filter((r) => r.resource === 'replicasets')).toHaveLength(1);
      });
    } finally {
      await api.stop();
    }
  }, 120_000);

  it("an upstream rule conditioned on container.privileged fires on the runtime's metadata: debugfs in a privileged pod", async () => {
    requireUpstream();
    await withDaemon(
      {},
      async (out, err) => {
        const pod = await ctd.runPod({
          name: 'priv-0',
          namespace: 'ops',
          container: 'debug',
          privileged: true,
          // `exec`: busybox's shell runs other programs through /proc/self/exe (comm `exe`)
          command: ['/bin/sh', '-c', 'mkdir -p /tmp && cp /bin/busybox /tmp/debugfs; sleep 2; exec /tmp/debugfs true'],
        });
        // the rule's output has no container id: found by the pod's name (a context field)
        const find = (): Record<string, unknown> | undefined =>
          out()
            .split('\n')
            .filter((l) => l.includes('"rule":"Debugfs Launched in Privileged Container"'))
            .map((l) => (JSON.parse(l) as { output_fields: Record<string, unknown> }).output_fields)
            .find((f) => f['k8s.pod.name'] === 'priv-0');
        await until(() => find() !== undefined, 20_000).catch(() => {
          throw new Error(`no alert for pod priv-0 (${pod.containerId}); daemon said:\n${err().slice(-3000)}`);
        });
        expect(find()).toMatchObject({ 'proc.name': 'debugfs', 'k8s.ns.name': 'ops', 'container.name': 'debug' });
      },
      ['--rules', `${UPSTREAM}rules/falco_rules.yaml`],
    );
  }, 120_000);
});
