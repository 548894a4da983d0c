import { describe, expect, it } from 'vitest';
import { containerFieldEntries, parseImageRef } from '../event/index.js';
import { containerMetaFromCri } from './container-meta-from-cri.js';
import type { CriContainer, CriPodSandbox } from './cri-client.js';

const ID = '3ad7b26ded6d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f001';

describe('image references', () => {
  it.each([
    ['docker.io/library/nginx:1.27', { repository: 'docker.io/library/nginx', tag: '1.27' }],
    ['nginx', { repository: 'nginx' }],
    ['localhost:5000/app:2', { repository: 'localhost:5000/app', tag: '2' }],
    ['localhost:5000/app', { repository: 'localhost:5000/app' }],
    ['ghcr.io/o/app:v1@sha256:abcd', { repository: 'ghcr.io/o/app', tag: 'v1', digest: 'sha256:abcd' }],
    ['ghcr.io/o/app@sha256:abcd', { repository: 'ghcr.io/o/app', digest: 'sha256:abcd' }],
  ])('%s', (ref, want) => expect(parseImageRef(ref)).toEqual({ tag: undefined, digest: undefined, ...want }));
});

describe('container metadata from CRI', () => {
  const sandbox: CriPodSandbox = {
    id: 'p1',
    metadata: { name: 'web-7d9c', uid: 'u-1', namespace: 'shop', attempt: 0 },
    state: 'SANDBOX_READY',
    created_at: '1',
    labels: {
      app: 'web',
      'io.kubernetes.pod.name': 'web-7d9c',
      'io.kubernetes.pod.namespace': 'shop',
      'io.kubernetes.pod.uid': 'u-1',
    },
    annotations: {},
  };
  const container: CriContainer = {
    id: ID,
    pod_sandbox_id: 'p1',
    metadata: { name: 'main', attempt: 0 },
    image: { image: 'docker.io/library/nginx:1.27' },
    image_ref: 'docker.io/library/nginx@sha256:feed',
    state: 'CONTAINER_RUNNING',
    created_at: '1',
    labels: {
      'io.kubernetes.container.name': 'nginx',
      'io.kubernetes.pod.name': 'web-7d9c',
      'io.kubernetes.pod.namespace': 'shop',
      'io.kubernetes.pod.uid': 'u-1',
    },
    annotations: {},
  };

  it("kubelet's labels first; pod labels without kubelet's; the digest from the image reference in use", () => {
    expect(containerMetaFromCri(container, sandbox)).toEqual({
      id: ID,
      name: 'nginx',
      image: 'docker.io/library/nginx:1.27',
      imageRepository: 'docker.io/library/nginx',
      imageTag: '1.27',
      imageDigest: 'sha256:feed',
      podName: 'web-7d9c',
      podNamespace: 'shop',
      podUid: 'u-1',
      podLabels: { app: 'web' },
    });
  });

  it("containerd's sandbox annotations when the labels are missing; the sandbox's metadata last", () => {
    const bare: CriContainer = {
      ...container,
      labels: {},
      annotations: { 'io.kubernetes.cri.sandbox-name': 'from-annotation', 'io.kubernetes.cri.container-name': 'c' },
    };
    expect(containerMetaFromCri(bare, sandbox)).toMatchObject({
      name: 'c',
      podName: 'from-annotation',
      podNamespace: 'shop',
      podUid: 'u-1',
    });
    expect(containerMetaFromCri({ ...bare, annotations: {} })).toMatchObject({ name: 'main', podName: undefined });
  });

  it('privileged and mounts from the verbose status', () => {
    const m = containerMetaFromCri(container, sandbox, {
      status: {
        ...container,
        mounts: [{ container_path: '/etc/hosts', host_path: '/var/lib/x/hosts', readonly: false }],
      },
      info: { info: JSON.stringify({ privileged: true }) },
    });
    expect([m.privileged, m.mounts]).toEqual([
      true,
      [{ source: '/var/lib/x/hosts', dest: '/etc/hosts', readonly: false }],
    ]);
  });

  it("fills Falco's container.* and k8s.* fields (12-character container.id as Falco prints it)", () => {
    const f = Object.fromEntries(
      containerFieldEntries({
        ...containerMetaFromCri(container, sandbox),
        privileged: false,
        mounts: [{ source: '/var/run/docker.sock', dest: '/run/docker.sock', readonly: true }],
      }),
    );
    expect(f).toMatchObject({
      'container.id': ID.slice(0, 12),
      'container.full_id': ID,
      'container.name': 'nginx',
      'container.image.repository': 'docker.io/library/nginx',
      'container.image.tag': '1.27',
      'container.privileged': false,
      'container.mount.dest[/var/run/docker.sock]': '/run/docker.sock',
      'k8s.ns.name': 'shop',
      'k8s.pod.name': 'web-7d9c',
      'k8s.pod.uid': 'u-1',
      'k8s.pod.label[app]': 'web',
      'k8s.pod.labels': ['app:web'],
    });
  });
});

describe('the enrich stage against hostile pod labels', () => {
  it('10,000 distinct label keys on a pod do not grow the field table; a label rules read still arrives; all labels stay in k8s.pod.labels', async () => {
    const { EventEnricher } = await import('./event-enricher.js');
    const { FieldKeyTable, FlatEventDecoder } = await import('../event/index.js');
    const table = new FieldKeyTable();
    const read = table.intern('k8s.pod.label[app]'); // as compiling a rule on it does
    const labels: Record<string, string> = { app: 'web' };
    for (let i = 0; i < 10_000; i++) labels[`attacker.example/k${i}`] = 'x';
    const meta = { id: ID, podName: 'p', podNamespace: 'n', podLabels: labels };
    const enricher = new EventEnricher(table, {
      lookup: (id: string) => (id === ID.slice(0, 12) ? meta : undefined),
      onList: () => {},
      version: 0,
    });
    const decoder = new FlatEventDecoder(table);
    const before = table.size;
    const e = enricher.enrich(
      decoder.decodeLine(JSON.stringify({ 'evt.type': 'openat', 'container.id': ID.slice(0, 12) }), 1),
    );
    expect(table.size - before).toBeLessThan(20); // the fixed container.* and k8s.* fields, not one per label
    expect(e.values[read]).toBe('web');
    expect((e.get(table, 'k8s.pod.labels') as string[]).length).toBe(10_001);
  });
});
