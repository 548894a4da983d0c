/** Kubernetes objects for the fake API server, shaped as kube-controller-manager leaves them. */

export function deployment(namespace: string, name: string): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { replicas: 2, selector: { matchLabels: { app: name } } },
  };
}

/** A ReplicaSet, owned by a Deployment when `deploymentUid` is given. */
export function replicaSet(
  namespace: string,
  name: string,
  owner?: { name: string; uid: string },
): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace,
      ownerReferences: owner
        ? [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner.name, uid: owner.uid, controller: true }]
        : undefined,
    },
    spec: { replicas: 2 },
  };
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly uid?: string;
  readonly owner?: { kind: string; name: string; uid: string; apiVersion?: string };
  readonly labels?: Record<string, string>;
  readonly ip?: string;
  readonly serviceAccount?: string;
  /** Container name → runtime id (`containerd://…` is added). */
  readonly containers?: Record<string, string>;
}

/** A running pod on `node`, with container statuses as kubelet reports them. */
export function pod(p: PodSpec): Record<string, unknown> {
  const containers = Object.entries(p.containers ?? { app: '' });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: p.uid,
      labels: p.labels ?? {},
      ownerReferences: p.owner
        ? [
            {
              apiVersion: p.owner.apiVersion ?? 'apps/v1',
              kind: p.owner.kind,
              name: p.owner.name,
              uid: p.owner.uid,
              controller: true,
            },
          ]
        : undefined,
    },
    spec: {
      nodeName: p.node,
      serviceAccountName: p.serviceAccount ?? 'default',
      containers: containers.map(([name]) => ({ name, image: 'registry.example.com/shop/web:1.4' })),
    },
    status: {
      phase: 'Running',
      podIP: p.ip ?? '169.254.9.9',
      containerStatuses: containers
        .filter(([, id]) => id)
        .map(([name, id]) => ({
          name,
          containerID: `containerd://${id}`,
          image: 'registry.example.com/shop/web:1.4',
          imageID: 'registry.example.com/shop/web@sha256:' + 'ab'.repeat(32),
          ready: true,
          restartCount: 0,
        })),
    },
  };
}
