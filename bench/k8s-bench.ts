/**
 * Container metadata (`npm run bench -- --only k8s`): a CRI server on a unix socket in this
 * process serving 1,000 pods (one container each, kubelet's labels, three mounts), the runtime
 * metadata cache listing them over real gRPC, then:
 * - `lookupsPerSec`: cached lookups by 12-character container id (what every event costs);
 * - `heapMBPer1000Pods`: heap held by the cache for the 1,000 pods (after GC);
 * - `enrichStageEventsPerSec`: the enrich stage alone on freshly decoded events of those
 *   containers (one map read, the container's fields written into the event's slots);
 * - `enrichedEventsPerSec` / `pipelineEventsPerSec`: the daemon end to end (pipeline bench: upstream
 *   rules, 500,000 events, every one in one of the pods) with and without runtime enrichment, in
 *   one run (alternating, best of three each); `enrichedRatio` is the first over the second;
 * - `api*`: the Kubernetes API's pod cache (k8s-api-bench.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriClient, EventEnricher, RuntimeMetadata } from '../src/enrich/index.js';
import { FieldKeyTable, FlatEventDecoder, SyscallEvent } from '../src/event/index.js';
import { codec, grpcMethod, loadProtoRoot } from '../src/transport/index.js';
import { counter, pipelineThroughput } from './pipeline-bench.js';
import { k8sApiSuite } from './k8s-api-bench.js';

const PODS = 1000;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A CRI server with `PODS` running pods (the calls the cache makes). */
export async function criServer(socket: string): Promise<grpc.Server> {
  const root = loadProtoRoot();
  const m = (name: string): grpc.MethodDefinition<object, object> =>
    grpcMethod(
      `/runtime.v1.RuntimeService/${name}`,
      codec<object>(root, `runtime.v1.${name}Request`),
      codec<object>(root, `runtime.v1.${name}Response`),
    );
  const id = (i: number, kind: string): string => (kind + i.toString(16).padStart(8, '0')).padEnd(64, 'a');
  const containers = Array.from({ length: PODS }, (_, i) => ({
    id: id(i, 'c'),
    pod_sandbox_id: id(i, 'p'),
    metadata: { name: 'app', attempt: 0 },
    image: { image: `registry.example/team/app-${i % 50}:1.${i % 7}` },
    image_ref: `registry.example/team/app-${i % 50}@sha256:${'b'.repeat(64)}`,
    state: 1,
    created_at: 1,
    labels: {
      'io.kubernetes.container.name': 'app',
      'io.kubernetes.pod.name': `app-${i}-7d9c`,
      'io.kubernetes.pod.namespace': `ns-${i % 20}`,
      'io.kubernetes.pod.uid': `uid-${i}`,
    },
    annotations: {},
  }));
  const sandboxes = Array.from({ length: PODS }, (_, i) => ({
    id: id(i, 'p'),
    metadata: { name: `app-${i}-7d9c`, uid: `uid-${i}`, namespace: `ns-${i % 20}`, attempt: 0 },
    state: 0,
    created_at: 1,
    labels: {
      app: `app-${i % 50}`,
      tier: 'web',
      'pod-template-hash': '7d9c',
      'io.kubernetes.pod.name': `app-${i}-7d9c`,
    },
    annotations: {},
  }));
  const server = new grpc.Server();
  server.addService(
    {
      Version: m('Version'),
      ListContainers: m('ListContainers'),
      ListPodSandbox: m('ListPodSandbox'),
      ContainerStatus: m('ContainerStatus'),
    },
    {
      Version: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { runtime_name: 'bench-cri', runtime_version: '1', runtime_api_version: 'v1' }),
      ListContainers: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { containers }),
      ListPodSandbox: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { items: sandboxes }),
      ContainerStatus: (c: grpc.ServerUnaryCall<{ container_id: string }, object>, cb: grpc.sendUnaryData<object>) =>
        cb(null, {
          status: {
            id: c.request.container_id,
            mounts: ['/etc/hosts', '/etc/resolv.conf', '/var/run/secrets/kubernetes.io/serviceaccount'].map((p) => ({
              container_path: p,
              host_path: `/var/lib/kubelet${p}`,
              readonly: true,
            })),
          },
          info: { info: '{"privileged":false}' },
        }),
    },
  );
  await new Promise<void>((res, rej) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())),
  );
  return server;
}

export async function k8sSuite(): Promise<Record<string, number>> {
  const socket = join(mkdtempSync(join(tmpdir(), 'bench-cri-')), 'cri.sock');
  const server = await criServer(socket);
  // the client, its protos and a first call before the baseline: the heap counts the pods only
  const cri = new CriClient(socket);
  await cri.version();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rt = new RuntimeMetadata(cri, { followEvents: false });
  await rt.start();
  gc();
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 1024 / 1024;

  const ids = Array.from({ length: PODS }, (_, i) =>
    ('c' + i.toString(16).padStart(8, '0')).padEnd(64, 'a').slice(0, 12),
  );
  let found = 0;
  for (let r = 0; r < 3; r++) for (const id of ids) if (rt.lookup(id)) found++; // warm-up
  const lookups = 5_000_000;
  const t0 = performance.now();
  for (let i = 0; i < lookups; i++) if (rt.lookup(ids[i % PODS])) found++;
  const lookupsPerSec = lookups / ((performance.now() - t0) / 1000);

  const table = new FieldKeyTable();
  // as in the daemon: the container fields have slots before events are decoded (sized to hold them)
  const enricher = new EventEnricher(table, rt);
  const decoder = new FlatEventDecoder(table);
  const events: SyscallEvent[] = Array.from({ length: 100_000 }, (_, i) =>
    decoder.decodeLine(
      JSON.stringify({
        'evt.type': 'openat',
        'proc.name': 'cat',
        'fd.name': '/etc/hosts',
        'container.id': ids[i % PODS],
      }),
      i + 1,
    ),
  );
  let sink = 0;
  // each pass on fresh copies: an event already enriched would only be read, not written
  const pass = (fn: (e: SyscallEvent) => SyscallEvent): number => {
    const fresh = events.map((e) => new SyscallEvent(e.values.slice()));
    const s = performance.now();
    for (const e of fresh) sink += fn(e).values.length;
    return fresh.length / ((performance.now() - s) / 1000);
  };
  for (let r = 0; r < 3; r++) pass((e) => enricher.enrich(e)); // warm-up
  const enriched: number[] = [];
  for (let r = 0; r < 5; r++) enriched.push(pass((e) => enricher.enrich(e)));
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  await rt.shutdown();
  const withRuntime = `runtime:\n  socket: ${socket}\n`;
  const without = 'runtime:\n  enabled: false\n';
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < 3; r++) {
    off.push((await pipelineThroughput(500_000, undefined, without, 'sensor-in-pods')).eventsPerSec);
    const run = await pipelineThroughput(500_000, undefined, withRuntime, 'sensor-in-pods');
    const n = await counter(run.agent, 'peregrine_events_enriched_total', { outcome: 'enriched' });
    if (n < 400_000) throw new Error(`bench k8s: only ${n} events were enriched`);
    on.push(run.eventsPerSec);
  }
  server.forceShutdown();
  if (found === 0 || sink === 0) throw new Error('bench k8s: nothing was found');
  return {
    ...(await k8sApiSuite()),
    lookupsPerSec: Math.round(lookupsPerSec),
    heapMBPer1000Pods: Math.round(heapMB * 100) / 100,
    enrichStageEventsPerSec: Math.round(median(enriched)),
    enrichedEventsPerSec: Math.max(...on),
    pipelineEventsPerSec: Math.max(...off),
    enrichedRatio: Math.round((Math.max(...on) / Math.max(...off)) * 100) / 100,
  };
}
