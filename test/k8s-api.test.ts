/**
 * Pod metadata from the Kubernetes API: `@kubernetes/client-node` against the shared fake API
 * server (test/fake-apiserver), over HTTP with a kubeconfig, as in a cluster.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type CoreV1Event,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-apiserver/fake-apiserver.js';
import { findKubeConfig, KubeConfigError, KubeMetadata } from '../src/k8s/index.js';
import { EventEnricher } from '../src/enrich/index.js';
import { FieldKeyTable, SyscallEvent, type ContainerMeta } from '../src/event/index.js';
import { deployment, pod, replicaSet } from './helpers/k8s-objects.js';
import { memoryLogger } from './helpers/memory-logger.js';
import { until } from './helpers/wait.js';

let api: FakeApiServer;
let dir: string;
let kubeconfig: string;
beforeAll(async () => {
  api = new FakeApiServer({ bookmarkMs: 200 });
  await api.start();
  dir = mkdtempSync(join(tmpdir(), 'peregrine-k8s-'));
  kubeconfig = api.kubeconfig(dir);
});
afterAll(async () => {
  await api.stop();
});

function client(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc;
}

const started: KubeMetadata[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((k) => k.shutdown()));
});

/** A KubeMetadata for `node` with short watch timeouts and backoffs. */
async function kube(
  node: string,
  extra: { namespaceLabels?: boolean; logger?: ReturnType<typeof memoryLogger>['logger'] } = {},
) {
  const k = new KubeMetadata(findKubeConfig(kubeconfig)!, {
    nodeName: node,
    watch: { timeoutSeconds: 5, backoff: { minMs: 20, maxMs: 200 } },
    ...extra,
  });
  started.push(k);
  await k.start(3_000);
  return k;
}

/** A Deployment → ReplicaSet chain in `ns`; returns the ReplicaSet as a pod owner. */
function webDeployment(ns: string, name: string): { kind: string; name: string; uid: string } {
  const d = api.put(deployment(ns, name));
  const rs = api.put(replicaSet(ns, `${name}-7d4b9`, { name, uid: d.metadata.uid! }));
  return { kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid! };
}

describe('the fake API server, as @kubernetes/client-node sees it', () => {
  it('lists by field selector, watches from a resourceVersion with bookmarks, and answers 410 for compacted versions', async () => {
    const core = client().makeApiClient(CoreV1Api);
    api.put(pod({ namespace: 'fa', name: 'on-a', node: 'fa-node-a' }));
    api.put(pod({ namespace: 'fa', name: 'on-b', node: 'fa-node-b' }));
    const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=fa-node-a' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['on-a']);
    await expect(core.listPodForAllNamespaces({ fieldSelector: 'spec.bogus=x' })).rejects.toMatchObject({ code: 400 });

    const seen: string[] = [];
    let done: unknown = 'open';
    const ctl = await new Watch(client()).watch(
      '/api/v1/pods',
      {
        fieldSelector: 'spec.nodeName=fa-node-a',
        resourceVersion: list.metadata!.resourceVersion!,
        allowWatchBookmarks: true,
      },
      (type, obj: { metadata?: { name?: string } }) => seen.push(`${type} ${obj.metadata?.name ?? ''}`),
      (err: unknown) => {
        done = err;
      },
    );
    api.put(pod({ namespace: 'fa', name: 'later', node: 'fa-node-a' }));
    api.put(pod({ namespace: 'fa', name: 'elsewhere', node: 'fa-node-b' }));
    // moving onto the node is ADDED for this watch; moving off it is DELETED
    api.put(pod({ namespace: 'fa', name: 'on-b', node: 'fa-node-a' }));
    api.put(pod({ namespace: 'fa', name: 'on-b', node: 'fa-node-b' }));
    await until(() => seen.includes('BOOKMARK '), 3_000);
    expect(seen.filter((s) => s !== 'BOOKMARK ')).toEqual(['ADDED later', 'ADDED on-b', 'DELETED on-b']);
    ctl.abort();

    api.compact();
    const gone: string[] = [];
    await new Watch(client()).watch(
      '/api/v1/pods',
      { resourceVersion: list.metadata!.resourceVersion! },
      (type, obj: { code?: number }) => gone.push(`${type} ${obj.code}`),
      () => undefined,
    );
    await until(() => gone.length > 0, 3_000);
    expect(gone).toEqual(['ERROR 410']);
    expect(done).toBeDefined();
  });

  it('get, merge patch, delete with a grace period; 404, 409 and 422 as Status objects', async () => {
    const core = client().makeApiClient(CoreV1Api);
    api.put(pod({ namespace: 'fb', name: 'p1', node: 'n' }));
    const p = await core.readNamespacedPod({ name: 'p1', namespace: 'fb' });
    expect(p.spec?.nodeName).toBe('n');
    const patched = await core.patchNamespacedPod(
      { name: 'p1', namespace: 'fb', body: { metadata: { labels: { quarantine: 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.metadata?.labels).toEqual({ quarantine: 'true' });
    await expect(
      core.patchNamespacedPod(
        { name: 'p1', namespace: 'fb', body: { metadata: { resourceVersion: '1', labels: { x: 'y' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    ).rejects.toMatchObject({ code: 409 });
    const deleting = await core.deleteNamespacedPod({ name: 'p1', namespace: 'fb', gracePeriodSeconds: 5 });
    expect(deleting.metadata?.deletionTimestamp).toBeDefined(); // terminating, then gone after the (sped-up) grace
    await until(() => api.get('Pod', 'fb', 'p1') === undefined, 3_000);
    await expect(core.readNamespacedPod({ name: 'p1', namespace: 'fb' })).rejects.toMatchObject({ code: 404 });
    await expect(core.createNamespacedPod({ namespace: 'fb', body: { metadata: {} } })).rejects.toMatchObject({
      code: 422,
    });
  });

  it('NetworkPolicies and Events: create, get, list, delete; a second create is 409', async () => {
    const kc = client();
    const net = kc.makeApiClient(NetworkingV1Api);
    const body = {
      metadata: { name: 'peregrine-quarantine', labels: { 'app.kubernetes.io/managed-by': 'peregrine' } },
      spec: {
        podSelector: { matchLabels: { 'peregrine.dev/quarantine': 'true' } },
        policyTypes: ['Ingress', 'Egress'],
      },
    };
    await net.createNamespacedNetworkPolicy({ namespace: 'fc', body });
    await expect(net.createNamespacedNetworkPolicy({ namespace: 'fc', body })).rejects.toMatchObject({ code: 409 });
    const got = await net.readNamespacedNetworkPolicy({ name: 'peregrine-quarantine', namespace: 'fc' });
    expect(got.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(
      (
        await net.listNamespacedNetworkPolicy({
          namespace: 'fc',
          labelSelector: 'app.kubernetes.io/managed-by=peregrine',
        })
      ).items,
    ).toHaveLength(1);
    await net.deleteNamespacedNetworkPolicy({ name: 'peregrine-quarantine', namespace: 'fc' });
    expect((await net.listNamespacedNetworkPolicy({ namespace: 'fc' })).items).toHaveLength(0);

    const core = kc.makeApiClient(CoreV1Api);
    const event: CoreV1Event = {
      metadata: { generateName: 'p1.' },
      involvedObject: { kind: 'Pod', name: 'p1', namespace: 'fc' },
      reason: 'PeregrineResponse',
      message: 'pod:isolate applied',
      type: 'Warning',
    };
    const created = await core.createNamespacedEvent({ namespace: 'fc', body: event });
    expect(created.metadata?.name).toMatch(/^p1\./);
    const events = await core.listNamespacedEvent({ namespace: 'fc', fieldSelector: 'involvedObject.name=p1' });
    expect(events.items.map((e) => e.reason)).toEqual(['PeregrineResponse']);
    await core.deleteNamespacedEvent({ name: created.metadata.name!, namespace: 'fc' });
    expect((await core.listNamespacedEvent({ namespace: 'fc' })).items).toHaveLength(0);
  });

  it('401 without the right token, 403 where forbidden, 429 when an eviction would break a PodDisruptionBudget', async () => {
    const wrong = new KubeConfig();
    wrong.loadFromFile(api.kubeconfig(mkdtempSync(join(tmpdir(), 'peregrine-k8s-')), 'wrong-token'));
    await expect(wrong.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
    const core = client().makeApiClient(CoreV1Api);
    api.forbid('list', 'namespaces');
    await expect(core.listNamespace()).rejects.toMatchObject({ code: 403 });
    api.allow('list', 'namespaces');
    await core.listNamespace();

    api.put(pod({ namespace: 'fd', name: 'guarded', node: 'n', labels: { app: 'db' } }));
    api.put({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'db', namespace: 'fd' },
      spec: { selector: { matchLabels: { app: 'db' } } },
      status: { disruptionsAllowed: 0 },
    });
    await expect(
      core.createNamespacedPodEviction({
        name: 'guarded',
        namespace: 'fd',
        body: { metadata: { name: 'guarded', namespace: 'fd' } },
      }),
    ).rejects.toMatchObject({ code: 429 });
  });
});

describe('KubeMetadata: one pod watch for this node', () => {
  it("knows this node's pods (not others'), their IP, service account, labels and workload: Deployment via ReplicaSet, CronJob via Job, StatefulSet, static and bare pods", async () => {
    const web = webDeployment('shop', 'web');
    api.put(
      pod({
        namespace: 'shop',
        name: 'web-7d4b9-x2x',
        node: 'km-1',
        uid: 'uid-web',
        owner: web,
        labels: { app: 'web' },
        ip: '169.254.9.10',
        serviceAccount: 'web-sa',
      }),
    );
    const cron = api.put({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'backup', namespace: 'shop' } });
    const job = api.put({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'backup-2899',
        namespace: 'shop',
        ownerReferences: [
          { apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: cron.metadata.uid, controller: true },
        ],
      },
    });
    api.put(
      pod({
        namespace: 'shop',
        name: 'backup-2899-q',
        node: 'km-1',
        uid: 'uid-job',
        owner: { kind: 'Job', name: 'backup-2899', uid: job.metadata.uid!, apiVersion: 'batch/v1' },
      }),
    );
    api.put(
      pod({
        namespace: 'shop',
        name: 'db-0',
        node: 'km-1',
        uid: 'uid-sts',
        owner: { kind: 'StatefulSet', name: 'db', uid: 'u-sts' },
      }),
    );
    api.put(
      pod({
        namespace: 'kube-system',
        name: 'etcd-km-1',
        node: 'km-1',
        uid: 'uid-static',
        owner: { kind: 'Node', name: 'km-1', uid: 'u-node', apiVersion: 'v1' },
      }),
    );
    api.put(pod({ namespace: 'shop', name: 'debug', node: 'km-1', uid: 'uid-bare' }));
    api.put(pod({ namespace: 'shop', name: 'web-7d4b9-other', node: 'km-2', uid: 'uid-other', owner: web }));
    api.put({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'km-1', labels: { 'topology.kubernetes.io/zone': 'eu-1a' } },
    });

    const k = await kube('km-1');
    await until(
      () => k.pod('uid-web')?.workloadKind === 'Deployment' && k.pod('uid-job')?.workloadKind === 'CronJob',
      3_000,
    );
    expect(k.pod('uid-web')).toMatchObject({
      podName: 'web-7d4b9-x2x',
      podNamespace: 'shop',
      podIp: '169.254.9.10',
      serviceAccount: 'web-sa',
      podLabels: { app: 'web' },
      workloadKind: 'Deployment',
      workloadName: 'web',
      ownerChain: ['ReplicaSet/web-7d4b9', 'Deployment/web'],
      nodeName: 'km-1',
    });
    expect(k.pod('uid-job')).toMatchObject({ workloadKind: 'CronJob', workloadName: 'backup' });
    expect(k.pod('uid-sts')).toMatchObject({ workloadKind: 'StatefulSet', workloadName: 'db' });
    expect(k.pod('uid-static')).toMatchObject({ workloadKind: 'StaticPod', workloadName: 'etcd-km-1' });
    expect(k.pod('uid-bare')).toMatchObject({ workloadKind: 'Pod', workloadName: 'debug' });
    expect(k.pod('uid-other')).toBeUndefined(); // another node's pod is not watched
    await until(() => k.pod('uid-web')?.nodeLabels !== undefined, 3_000);
    expect(k.pod('uid-web')?.nodeLabels).toEqual({ 'topology.kubernetes.io/zone': 'eu-1a' });
    const lists = api.requests.filter(
      (r) => r.verb === 'list' && r.resource === 'pods' && r.query.fieldSelector === 'spec.nodeName=km-1',
    );
    expect(lists).toHaveLength(1);
  });

  it('follows the watch: a pod added later, relabelled, deleted (still resolvable), and never a request per lookup', async () => {
    const k = await kube('km-3');
    const before = api.requests.length;
    api.put(
      pod({
        namespace: 'w',
        name: 'late',
        node: 'km-3',
        uid: 'uid-late',
        labels: { v: '1' },
        containers: { app: 'c'.repeat(64) },
      }),
    );
    await until(() => k.pod('uid-late') !== undefined, 3_000);
    expect(k.container('c'.repeat(12))).toMatchObject({
      podName: 'late',
      name: 'app',
      imageRepository: 'registry.example.com/shop/web',
      imageTag: '1.4',
    });
    api.put(
      pod({
        namespace: 'w',
        name: 'late',
        node: 'km-3',
        uid: 'uid-late',
        labels: { v: '2' },
        containers: { app: 'c'.repeat(64) },
      }),
    );
    await until(() => k.pod('uid-late')?.podLabels?.v === '2', 3_000);
    api.remove('Pod', 'w', 'late');
    await until(() => k.stats.pods === 0, 3_000);
    expect(k.pod('uid-late')).toMatchObject({ podName: 'late' }); // a dying pod's last events keep their metadata
    const requests = api.requests.length;
    for (let i = 0; i < 10_000; i++) k.pod('uid-late');
    expect(api.requests.length).toBe(requests);
    expect(requests - before).toBeLessThanOrEqual(3); // bare pod: no owner GET; at most a watch re-opened
  });

  it('410 Gone after compaction: lists again and catches up on what changed meanwhile', async () => {
    const k = await kube('km-4');
    api.dropWatches();
    api.put(pod({ namespace: 'g', name: 'during', node: 'km-4', uid: 'uid-during' }));
    api.compact();
    await until(() => k.stats.pods_watch.gone >= 1 && k.pod('uid-during') !== undefined, 5_000);
    expect(k.stats.pods_watch.lists).toBe(2);
  });

  it('API errors and broken watches: serves what it has, backs off, reconnects, and resumes from its resourceVersion', async () => {
    const { logger, lines } = memoryLogger();
    api.put(pod({ namespace: 'e', name: 'known', node: 'km-5', uid: 'uid-known' }));
    const k = await kube('km-5', { logger });
    api.forbid('watch', 'pods');
    api.dropWatches();
    await until(() => k.stats.pods_watch.errors >= 3, 5_000);
    expect(k.pod('uid-known')).toMatchObject({ podName: 'known' });
    const warn = lines.find((l) => String(l.msg).includes('watch failed'));
    expect(String(warn?.err)).toContain('HTTP 403');
    expect(lines.filter((l) => String(l.msg).includes('watch failed')).length).toBeLessThanOrEqual(2); // bounded log rate
    api.allow('watch', 'pods');
    api.put(pod({ namespace: 'e', name: 'new', node: 'km-5', uid: 'uid-new' }));
    await until(() => k.pod('uid-new') !== undefined, 5_000);
    expect(k.stats.pods_watch.lists).toBe(1); // resumed from its version: no re-list
    expect(api.openWatches).toBeGreaterThanOrEqual(1);
  });

  it('a wedged API server (a watch never answered): shutdown still ends at once', async () => {
    api.put(pod({ namespace: 'wedge', name: 'p', node: 'km-10', uid: 'uid-wedge' }));
    api.stallWatches = true;
    try {
      const k = await kube('km-10');
      expect(k.pod('uid-wedge')).toBeDefined();
      const t0 = Date.now();
      await k.shutdown();
      expect(Date.now() - t0).toBeLessThan(1_000);
    } finally {
      api.stallWatches = false;
    }
  });

  it('a wrong token: start() says not listed (401) instead of failing, and nothing crashes', async () => {
    const { logger, lines } = memoryLogger();
    const file = api.kubeconfig(mkdtempSync(join(tmpdir(), 'peregrine-k8s-')), 'stale-token');
    const k = new KubeMetadata(findKubeConfig(file)!, {
      nodeName: 'km-6',
      logger,
      watch: { backoff: { minMs: 20, maxMs: 100 } },
    });
    started.push(k);
    expect(await k.start(500)).toBe(false);
    expect(lines.some((l) => String(l.err).includes('HTTP 401') && String(l.err).includes('credentials'))).toBe(true);
  });

  it('namespace labels from the optional namespace watch', async () => {
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments', labels: { tier: 'pci' } } });
    api.put(pod({ namespace: 'payments', name: 'pay', node: 'km-7', uid: 'uid-pay' }));
    const k = await kube('km-7', { namespaceLabels: true });
    expect(k.pod('uid-pay')?.namespaceLabels).toEqual({ tier: 'pci' });
    api.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'payments', labels: { tier: 'pci', env: 'prod' } },
    });
    await until(() => k.pod('uid-pay')?.namespaceLabels?.env === 'prod', 3_000);
  });

  it('owners are read once per ReplicaSet, not per pod', async () => {
    const web = webDeployment('cache', 'api');
    for (let i = 0; i < 5; i++)
      api.put(pod({ namespace: 'cache', name: `api-7d4b9-${i}`, node: 'km-8', uid: `uid-api-${i}`, owner: web }));
    const k = await kube('km-8');
    await until(() => [0, 1, 2, 3, 4].every((i) => k.pod(`uid-api-${i}`)?.workloadName === 'api'), 3_000);
    expect(k.stats.ownerRequests).toBe(1);
  });
});

describe('configuration', () => {
  it('no kubeconfig and not in a cluster: off; a kubeconfig that cannot be read: an error naming the file', () => {
    expect(findKubeConfig(undefined, {})).toBeUndefined();
    expect(() => findKubeConfig('/nonexistent/kubeconfig', {})).toThrow(KubeConfigError);
    expect(() => findKubeConfig(undefined, { KUBECONFIG: '/nonexistent/kc' })).toThrow(/nonexistent\/kc/);
    expect(findKubeConfig(undefined, { KUBECONFIG: kubeconfig })?.server).toBe(api.url);
  });
});

describe('the enrich stage with both caches', () => {
  it('runtime container fields and API pod fields together; the API wins for labels (they change after start)', async () => {
    const web = webDeployment('mix', 'shop');
    api.put(
      pod({
        namespace: 'mix',
        name: 'shop-7d4b9-a',
        node: 'km-9',
        uid: 'uid-mix',
        owner: web,
        labels: { app: 'shop', quarantine: 'true' },
      }),
    );
    const k = await kube('km-9');
    await until(() => k.pod('uid-mix')?.workloadKind === 'Deployment', 3_000);
    const runtimeMeta: ContainerMeta = {
      id: 'd'.repeat(64),
      name: 'shop',
      imageRepository: 'registry.example.com/shop',
      privileged: true,
      podName: 'shop-7d4b9-a',
      podNamespace: 'mix',
      podUid: 'uid-mix',
      podLabels: { app: 'shop' },
    };
    const table = new FieldKeyTable();
    const runtime = {
      lookup: (id: string) => (id === 'd'.repeat(12) ? runtimeMeta : undefined),
      onList: () => undefined,
      version: 0,
    };
    const enricher = new EventEnricher(table, runtime, k);
    table.intern('k8s.pod.label[quarantine]');
    const values: Array<string | undefined> = [];
    values[table.intern('evt.type')] = 'open';
    values[table.intern('container.id')] = 'd'.repeat(12);
    const e = new SyscallEvent(values);
    enricher.enrich(e);
    const v = (f: string): unknown => e.get(table, f);
    expect(v('container.name')).toBe('shop');
    expect(v('container.privileged')).toBe(true);
    expect(v('k8s.workload.kind')).toBe('Deployment');
    expect(v('k8s.workload.name')).toBe('shop');
    expect(v('k8s.deployment.name')).toBe('shop');
    expect(v('k8s.rs.name')).toBe('shop-7d4b9');
    expect(v('k8s.pod.ip')).toBe('169.254.9.9');
    expect(v('k8s.pod.label[quarantine]')).toBe('true');

    // the label is removed in the API: the next event of the container says so (the cached fill is revalidated)
    api.put(
      pod({
        namespace: 'mix',
        name: 'shop-7d4b9-a',
        node: 'km-9',
        uid: 'uid-mix',
        owner: web,
        labels: { app: 'shop' },
      }),
    );
    await until(() => k.pod('uid-mix')?.podLabels?.quarantine === undefined, 3_000);
    const values2: Array<string | undefined> = [];
    values2[table.intern('evt.type')] = 'open';
    values2[table.intern('container.id')] = 'd'.repeat(12);
    const e2 = enricher.enrich(new SyscallEvent(values2));
    expect(e2.get(table, 'k8s.pod.label[quarantine]')).toBeUndefined();
    expect(e2.get(table, 'k8s.workload.name')).toBe('shop');
  });
});

describe('hostile pods', () => {
  it('a pod (and its namespace) with 10,000 label keys from the API: events get only the keys rules read, the field table does not grow', async () => {
    const labels: Record<string, string> = { app: 'web' };
    for (let i = 0; i < 10_000; i++) labels[`attacker.example/k${i}`] = 'x';
    api.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flood', labels } });
    api.put(
      pod({
        namespace: 'flood',
        name: 'many-labels',
        node: 'km-11',
        uid: 'uid-flood',
        labels,
        containers: { app: 'e'.repeat(64) },
      }),
    );
    const k = await kube('km-11', { namespaceLabels: true });
    await until(() => k.container('e'.repeat(12))?.namespaceLabels !== undefined, 3_000);
    const table = new FieldKeyTable();
    table.intern('k8s.pod.label[app]');
    const enricher = new EventEnricher(table, undefined, k);
    const size = table.size;
    const values: Array<string | undefined> = [];
    values[table.intern('container.id')] = 'e'.repeat(12);
    const e = enricher.enrich(new SyscallEvent(values));
    expect(e.get(table, 'k8s.pod.label[app]')).toBe('web');
    expect(e.get(table, 'k8s.pod.name')).toBe('many-labels');
    expect(table.size).toBeLessThanOrEqual(size + 1);
  });
});
