import type { FieldValue } from './field-value.js';

/**
 * What is known of a container and its pod, from whichever source knows it (the container
 * runtime, the Kubernetes API, Tetragon). Every member is optional: unknown stays missing.
 */
export interface ContainerMeta {
  /** The full container id (64 hex characters for containerd and CRI-O). */
  readonly id: string;
  readonly name?: string;
  /** The image as the pod spec names it (`docker.io/library/nginx:1.27`). */
  readonly image?: string;
  readonly imageRepository?: string;
  readonly imageTag?: string;
  readonly imageDigest?: string;
  readonly privileged?: boolean;
  readonly mounts?: ReadonlyArray<{ readonly source: string; readonly dest: string; readonly readonly: boolean }>;
  readonly podName?: string;
  readonly podNamespace?: string;
  readonly podUid?: string;
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly podIp?: string;
  readonly workloadKind?: string;
  readonly workloadName?: string;
  /** The owners from the pod up to its workload, nearest first (`ReplicaSet/web-7d4b9`, `Deployment/web`). */
  readonly ownerChain?: readonly string[];
  readonly serviceAccount?: string;
  readonly nodeName?: string;
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  readonly nodeLabels?: Readonly<Record<string, string>>;
}

/** What is known of a pod alone (the Kubernetes API's part of a container's metadata). */
export type PodMeta = Omit<ContainerMeta, 'id'>;

/** Splits an image reference into repository, tag and digest (`repo[:tag][@sha256:…]`). */
export function parseImageRef(ref: string): { repository: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash
    ? { repository: name.slice(0, colon), tag: name.slice(colon + 1), digest }
    : { repository: name, digest };
}

/**
 * Every unkeyed field {@link containerFieldEntries} may fill. The enrich stage interns them before
 * the first event is decoded, so decoders size events to hold them (an event extended afterwards
 * is copied).
 */
export const CONTAINER_FIELD_NAMES: readonly string[] = [
  'container.id',
  'container.full_id',
  'container.name',
  'container.image',
  'container.image.repository',
  'container.image.tag',
  'container.image.digest',
  'container.privileged',
  'container.mounts',
  'k8s.ns.name',
  'k8s.pod.name',
  'k8s.pod.uid',
  'k8s.pod.id',
  'k8s.pod.ip',
  'k8s.node.name',
  'k8s.workload.kind',
  'k8s.workload.name',
  'k8s.pod.serviceaccount',
  'k8s.rs.name',
  'k8s.deployment.name',
  'k8s.statefulset.name',
  'k8s.daemonset.name',
  'k8s.job.name',
  'k8s.cronjob.name',
  'k8s.pod.labels',
  'k8s.ns.labels',
  'k8s.node.labels',
];

/**
 * The Falco fields a container's metadata fills (`container.*`, `k8s.*`, and Peregrine's
 * `k8s.workload.*`), as field key → value; unknown members are left out.
 */
export function containerFieldEntries(m: ContainerMeta): Array<[string, FieldValue]> {
  const out: Array<[string, FieldValue]> = [
    ['container.id', m.id.slice(0, 12)],
    ['container.full_id', m.id],
  ];
  const put = (k: string, v: FieldValue | undefined): void => {
    if (v !== undefined && v !== '') out.push([k, v]);
  };
  put('container.name', m.name);
  put('container.image', m.image);
  put('container.image.repository', m.imageRepository);
  put('container.image.tag', m.imageTag);
  put('container.image.digest', m.imageDigest);
  put('container.privileged', m.privileged);
  if (m.mounts) {
    put(
      'container.mounts',
      m.mounts.map((x) => `${x.source}:${x.dest}:${x.readonly ? 'ro' : 'rw'}:true:private`).join(','),
    );
    for (const x of m.mounts) put(`container.mount.dest[${x.source}]`, x.dest);
    m.mounts.forEach((x, i) => {
      put(`container.mount.dest[${i}]`, x.dest);
      put(`container.mount.source[${x.dest}]`, x.source);
    });
  }
  put('k8s.ns.name', m.podNamespace);
  put('k8s.pod.name', m.podName);
  put('k8s.pod.uid', m.podUid);
  put('k8s.pod.id', m.podUid);
  put('k8s.pod.ip', m.podIp);
  put('k8s.node.name', m.nodeName);
  put('k8s.workload.kind', m.workloadKind);
  put('k8s.workload.name', m.workloadName);
  put('k8s.pod.serviceaccount', m.serviceAccount);
  for (const owner of m.ownerChain ?? []) {
    const slash = owner.indexOf('/');
    const field = OWNER_FIELDS[owner.slice(0, slash)];
    if (field) put(field, owner.slice(slash + 1));
  }
  labelFields(put, 'k8s.pod', m.podLabels);
  labelFields(put, 'k8s.ns', m.namespaceLabels);
  labelFields(put, 'k8s.node', m.nodeLabels);
  return out;
}

/** Falco's names for a pod's owners by kind (`k8s.rs.name`, `k8s.deployment.name`). */
const OWNER_FIELDS: Readonly<Record<string, string>> = {
  ReplicaSet: 'k8s.rs.name',
  Deployment: 'k8s.deployment.name',
  StatefulSet: 'k8s.statefulset.name',
  DaemonSet: 'k8s.daemonset.name',
  Job: 'k8s.job.name',
  CronJob: 'k8s.cronjob.name',
};

/** `PREFIX.labels` (Falco's `key:value` list) and `PREFIX.label[KEY]` for each label. */
function labelFields(
  put: (k: string, v: FieldValue | undefined) => void,
  prefix: string,
  labels: Readonly<Record<string, string>> | undefined,
): void {
  if (!labels) return;
  const entries = Object.entries(labels);
  put(
    `${prefix}.labels`,
    entries.map(([k, v]) => `${k}:${v}`),
  );
  for (const [k, v] of entries) put(`${prefix}.label[${k}]`, v);
}
