/**
 * The Kubernetes API's pod cache (part of `npm run bench -- --only k8s`): a minimal API server
 * on loopback (plain HTTP; the kubeconfig skips TLS) that lists 1,000 pods of one node, each
 * owned by one of 50 ReplicaSets of Deployments, with kubelet-like labels and a container
 * status, then holds the watch open. Measures the heap `KubeMetadata` keeps for them and its
 * lookups by pod UID.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKubeConfig, KubeMetadata } from '../src/k8s/index.js';

const PODS = 1000;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A pod as kubelet and the ReplicaSet controller leave it (about 2 KB of JSON; real ones carry more). */
function pod(i: number): object {
  const rs = `app-${i % 50}-7d9c`;
  return {
    metadata: {
      name: `${rs}-${i}`,
      namespace: `ns-${i % 20}`,
      uid: `uid-${i}`,
      resourceVersion: String(1000 + i),
      labels: { app: `app-${i % 50}`, tier: 'web', 'pod-template-hash': '7d9c' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `rs-${i % 50}`, controller: true }],
    },
    spec: {
      nodeName: 'bench-node',
      serviceAccountName: 'default',
      containers: [{ name: 'app', image: `registry.example/team/app-${i % 50}:1.${i % 7}` }],
    },
    status: {
      phase: 'Running',
      podIP: `169.254.${i >> 8}.${i & 255}`,
      containerStatuses: [
        {
          name: 'app',
          containerID: `containerd://${('c' + i.toString(16).padStart(8, '0')).padEnd(64, 'a')}`,
          image: `registry.example/team/app-${i % 50}:1.${i % 7}`,
          imageID: `registry.example/team/app-${i % 50}@sha256:${'b'.repeat(64)}`,
          ready: true,
          restartCount: 0,
        },
      ],
    },
  };
}

/** A kubeconfig in `dir` for a plain-HTTP API server on loopback (TLS verification off: bench only). */
export function loopbackKubeconfig(dir: string, url: string): string {
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: b\n  context:\n    cluster: b\n    user: u\ncurrent-context: b\n`,
  );
  return kubeconfig;
}

async function apiServer(): Promise<{ server: Server; kubeconfig: string }> {
  const list = JSON.stringify({
    kind: 'PodList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '5000' },
    items: Array.from({ length: PODS }, (_, i) => pod(i)),
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/v1/pods' && url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders(); // held open: no changes
      return;
    }
    const body =
      url.pathname === '/api/v1/pods'
        ? list
        : url.pathname.includes('/replicasets/')
          ? JSON.stringify({
              metadata: {
                name: url.pathname.split('/').pop(),
                ownerReferences: [
                  { apiVersion: 'apps/v1', kind: 'Deployment', name: 'app', uid: 'd', controller: true },
                ],
              },
            })
          : JSON.stringify({ metadata: { name: 'bench-node', labels: { zone: 'a' } } });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kubeconfig = loopbackKubeconfig(
    mkdtempSync(join(tmpdir(), 'bench-k8s-')),
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  );
  return { server, kubeconfig };
}

/** `apiHeapMBPer1000Pods` and `apiLookupsPerSec`. */
export async function k8sApiSuite(): Promise<Record<string, number>> {
  const { server, kubeconfig } = await apiServer();
  const found = findKubeConfig(kubeconfig)!;
  // a first client and list before the baseline: the heap counts the pods only
  const warm = new KubeMetadata(found, { nodeName: 'bench-node', nodeLabels: false });
  await warm.start();
  await warm.shutdown();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const kube = new KubeMetadata(found, { nodeName: 'bench-node' });
  if (!(await kube.start())) throw new Error('bench k8s: pods not listed');
  const end = Date.now() + 5_000;
  while (kube.pod(`uid-${PODS - 1}`)?.workloadKind !== 'Deployment' && Date.now() < end)
    await new Promise((r) => setTimeout(r, 10));
  gc();
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 1024 / 1024;
  const uids = Array.from({ length: PODS }, (_, i) => `uid-${i}`);
  let hits = 0;
  for (let r = 0; r < 3; r++) for (const u of uids) if (kube.pod(u)) hits++;
  const n = 5_000_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (kube.pod(uids[i % PODS])) hits++;
  const lookupsPerSec = n / ((performance.now() - t0) / 1000);
  const requests = kube.stats.ownerRequests;
  await kube.shutdown();
  server.closeAllConnections();
  server.close();
  if (hits === 0) throw new Error('bench k8s: no pod found');
  return {
    apiLookupsPerSec: Math.round(lookupsPerSec),
    apiHeapMBPer1000Pods: Math.round(heapMB * 100) / 100,
    apiOwnerRequestsFor1000Pods: requests,
  };
}
