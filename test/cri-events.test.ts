/**
 * CRI `GetContainerEvents` (containerd ≥ 1.7, CRI-O ≥ 1.26), which this machine's containerd 1.6
 * lacks: a real gRPC CRI server on a unix socket that speaks it (or not), as those runtimes do.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CriClient, RuntimeMetadata } from '../src/enrich/index.js';
import { codec, grpcMethod, loadProtoRoot } from '../src/transport/index.js';
import { until } from './helpers/wait.js';

interface TestCri {
  readonly socket: string;
  /** Adds a running container in its own pod; pushes a CONTAINER_STARTED_EVENT to subscribers when `announce`. */
  add(id: string, pod: string, announce: boolean): void;
  stop(): void;
}

/** A CRI runtime named `name` on a unix socket; with `events`, it serves GetContainerEvents. */
async function testCri(name: string, events: boolean): Promise<TestCri> {
  const root = loadProtoRoot();
  const m = (method: string, stream?: 'server'): grpc.MethodDefinition<object, object> =>
    grpcMethod(
      `/runtime.v1.RuntimeService/${method}`,
      codec<object>(root, `runtime.v1.${method === 'GetContainerEvents' ? 'GetEvents' : method}Request`),
      codec<object>(root, `runtime.v1.${method === 'GetContainerEvents' ? 'ContainerEvent' : method}Response`),
      stream,
    );
  const containers: object[] = [];
  const sandboxes: object[] = [];
  const subscribers = new Set<grpc.ServerWritableStream<object, object>>();
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {
    Version: m('Version'),
    ListContainers: m('ListContainers'),
    ListPodSandbox: m('ListPodSandbox'),
    ContainerStatus: m('ContainerStatus'),
  };
  const handlers: grpc.UntypedServiceImplementation = {
    Version: (_c: unknown, cb: grpc.sendUnaryData<object>) =>
      cb(null, { runtime_name: name, runtime_version: '1.30.0', runtime_api_version: 'v1' }),
    ListContainers: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { containers }),
    ListPodSandbox: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { items: sandboxes }),
    ContainerStatus: (c: grpc.ServerUnaryCall<{ container_id: string }, object>, cb: grpc.sendUnaryData<object>) =>
      cb(null, { status: { id: c.request.container_id } }),
  };
  if (events) {
    definition.GetContainerEvents = m('GetContainerEvents', 'server');
    handlers.GetContainerEvents = (call: grpc.ServerWritableStream<object, object>) => {
      subscribers.add(call);
      call.sendMetadata(new grpc.Metadata());
      call.on('cancelled', () => subscribers.delete(call));
    };
  }
  const server = new grpc.Server();
  server.addService(definition, handlers);
  const socket = join(mkdtempSync(join(tmpdir(), 'peregrine-cri-')), 'cri.sock');
  await new Promise<void>((res, rej) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())),
  );
  return {
    socket,
    add(id, pod, announce) {
      const sandbox = `${pod}`.padEnd(64, 'f');
      sandboxes.push({ id: sandbox, metadata: { name: pod, namespace: 'crio-ns', uid: `uid-${pod}` }, state: 0 });
      containers.push({
        id,
        pod_sandbox_id: sandbox,
        metadata: { name: 'app' },
        image: { image: 'quay.io/team/app:2' },
        state: 1,
        labels: {
          'io.kubernetes.pod.name': pod,
          'io.kubernetes.pod.namespace': 'crio-ns',
          'io.kubernetes.container.name': 'app',
        },
      });
      if (announce)
        for (const s of subscribers)
          s.write({ container_id: id, container_event_type: 1, created_at: Date.now() * 1e6 });
    },
    stop: () => server.forceShutdown(),
  };
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

describe('CRI GetContainerEvents', () => {
  it('a runtime that streams container events (CRI-O): a container started later is known before its first lookup', async () => {
    const cri = await testCri('cri-o', true);
    const rt = new RuntimeMetadata(new CriClient(cri.socket), { relistMs: 1e9 }); // misses never re-list here
    cleanup.push(
      () => rt.shutdown(),
      () => cri.stop(),
    );
    await rt.start();
    await until(() => rt.feed === 'CRI GetContainerEvents', 3_000);
    const lists = rt.stats.lists;
    const id = 'a1'.repeat(32);
    cri.add(id, 'web-1', true);
    await until(() => rt.stats.lists > lists, 3_000);
    expect(rt.lookup(id.slice(0, 12))).toMatchObject({ podName: 'web-1', podNamespace: 'crio-ns', name: 'app' });
    expect(rt.stats.misses).toBe(0);
  });

  it('a runtime with no event stream at all: said once, and an unknown container is found by re-listing on its first miss', async () => {
    const cri = await testCri('cri-o', false);
    const rt = new RuntimeMetadata(new CriClient(cri.socket), { relistMs: 0 });
    cleanup.push(
      () => rt.shutdown(),
      () => cri.stop(),
    );
    await rt.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(rt.feed).toBe('none');
    const id = 'b2'.repeat(32);
    cri.add(id, 'web-2', false);
    expect(rt.lookup(id)).toBeUndefined(); // the miss schedules a re-list
    await until(() => rt.lookup(id) !== undefined, 3_000);
    expect(rt.lookup(id)).toMatchObject({ podName: 'web-2' });
  });
});
