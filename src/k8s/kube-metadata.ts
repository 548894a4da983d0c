import { CoreV1Api, type V1Namespace, type V1Pod, type V1ContainerStatus } from '@kubernetes/client-node';
import { parseImageRef, type ContainerMeta, type PodMeta } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import type { FoundKubeConfig } from './kube-config.js';
import { OwnerResolver, type Workload } from './owner-resolver.js';
import { describe, ResourceWatch, type ResourceWatchStats } from './resource-watch.js';

/**
 * The API permissions {@link KubeMetadata} uses (the agent's ClusterRole is made of these):
 * this node's pods, its own node, owners one level up, and namespaces when their labels are on.
 */
export const KUBE_METADATA_RBAC = [
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
] as const;

export interface KubeMetadataOptions {
  /** This node's name: only its pods are watched (`spec.nodeName`). */
  readonly nodeName: string;
  /** Also watch namespaces for `k8s.ns.label[KEY]` (one more watch per node); default false. */
  readonly namespaceLabels?: boolean;
  /** Read this node's labels for `k8s.node.label[KEY]` (one GET every `nodeRefreshMs`); default true. */
  readonly nodeLabels?: boolean;
  /** Default 10 minutes. */
  readonly nodeRefreshMs?: number;
  /** Pods held at most (the node's, plus recently deleted); default 5000, the rest counted in `overflow`. */
  readonly maxPods?: number;
  /** Deleted pods kept resolvable (their last events); default 512. */
  readonly recentMax?: number;
  readonly logger?: Logger;
  /** Passed to the watches (tests shorten them). */
  readonly watch?: { readonly timeoutSeconds?: number; readonly backoff?: { minMs: number; maxMs: number } };
}

/** What the API cache holds and has done (a snapshot). */
export interface KubeMetadataStats {
  pods: number;
  recent: number;
  /** Pods not held because `maxPods` was reached. */
  overflow: number;
  pods_watch: ResourceWatchStats;
  namespaces_watch?: ResourceWatchStats;
  ownerRequests: number;
  nodeReads: number;
}

/** What a pod's status says of one of its containers. */
type ContainerPart = Pick<
  ContainerMeta,
  'id' | 'name' | 'image' | 'imageRepository' | 'imageTag' | 'imageDigest' | 'privileged'
>;

/**
 * What is kept of one pod: the few fields enrichment reads, not the API object (a pod's JSON is
 * 5–20 KB; this is a few hundred bytes plus its labels).
 */
interface PodEntry {
  /** The pod's own metadata (workload, namespace and node labels are added by `build`). */
  readonly base: PodMeta;
  readonly owners: ReadonlyArray<{ kind: string; name: string; uid: string; controller?: boolean; apiVersion: string }>;
  readonly containers: ReadonlyArray<ContainerPart>;
  meta: PodMeta;
  workload?: Workload;
  containerIds: string[];
}

/**
 * Pod metadata from the Kubernetes API for this node's pods: one pod watch per node
 * (`fieldSelector=spec.nodeName=NODE`), owners resolved lazily to workloads, this node's labels,
 * and (optionally) namespace labels. Lookups are map reads: by pod UID (the container runtime
 * knows each container's pod UID) and by container id (from the pods' container statuses, for
 * events whose runtime is not reachable). Deleted pods stay resolvable in a bounded LRU.
 */
export class KubeMetadata {
  /** Changes with every change of what lookups may answer (enrichers revalidate what they cached). */
  version = 0;
  private readonly pods = new Map<string, PodEntry>();
  private readonly recent = new Map<string, PodEntry>();
  private readonly containers = new Map<string, ContainerMeta>();
  private namespaces = new Map<string, Readonly<Record<string, string>>>();
  private nodeLabels: Readonly<Record<string, string>> | undefined;
  private readonly podWatch: ResourceWatch<V1Pod>;
  private readonly nsWatch: ResourceWatch<V1Namespace> | undefined;
  private readonly owners: OwnerResolver;
  private readonly core: CoreV1Api;
  private readonly log: Logger;
  private readonly limiter = new RateLimiter(60_000, 1);
  private readonly listeners: Array<() => void> = [];
  private nodeTimer: NodeJS.Timeout | undefined;
  private overflow = 0;
  private nodeReads = 0;
  private stopped = false;

  constructor(
    private readonly found: FoundKubeConfig,
    private readonly opts: KubeMetadataOptions,
  ) {
    this.log = opts.logger ?? silentLogger();
    const config = found.config;
    this.core = config.makeApiClient(CoreV1Api);
    this.owners = new OwnerResolver(config, { logger: this.log });
    const fieldSelector = `spec.nodeName=${opts.nodeName}`;
    this.podWatch = new ResourceWatch<V1Pod>({
      config,
      what: `pods on node ${opts.nodeName}`,
      path: '/api/v1/pods',
      query: { fieldSelector },
      list: () => this.core.listPodForAllNamespaces({ fieldSelector }),
      onReset: (pods) => this.resetPods(pods),
      onChange: (type, pod) => (type === 'DELETED' ? this.deletePod(pod) : this.putPod(pod)),
      logger: this.log,
      ...opts.watch,
    });
    this.nsWatch = opts.namespaceLabels
      ? new ResourceWatch<V1Namespace>({
          config,
          what: 'namespaces',
          path: '/api/v1/namespaces',
          list: () => this.core.listNamespace(),
          onReset: (items) => {
            this.namespaces = new Map(items.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
            this.rebuildAll();
          },
          onChange: (type, ns) => {
            const name = ns.metadata?.name ?? '';
            if (type === 'DELETED') this.namespaces.delete(name);
            else this.namespaces.set(name, ns.metadata?.labels ?? {});
            this.rebuildAll((p) => p.base.podNamespace === name);
          },
          logger: this.log,
          ...opts.watch,
        })
      : undefined;
  }

  /** Where the API is (for the log line that says API enrichment is on). */
  get from(): string {
    return `${this.found.from} (${this.found.server})`;
  }

  get stats(): KubeMetadataStats {
    return {
      pods: this.pods.size,
      recent: this.recent.size,
      overflow: this.overflow,
      pods_watch: { ...this.podWatch.stats },
      namespaces_watch: this.nsWatch ? { ...this.nsWatch.stats } : undefined,
      ownerRequests: this.owners.stats.requests,
      nodeReads: this.nodeReads,
    };
  }

  /**
   * Starts the watches; resolves once the pods are listed or after `waitMs` (the API may be
   * down: the watches keep trying and lookups answer what is known). Never rejects.
   */
  async start(waitMs = 5_000): Promise<boolean> {
    this.log.info({ api: this.from, node: this.opts.nodeName }, 'Kubernetes API metadata on');
    if (this.opts.nodeLabels !== false) {
      void this.readNode();
      this.nodeTimer = setInterval(() => void this.readNode(), this.opts.nodeRefreshMs ?? 600_000);
      this.nodeTimer.unref();
    }
    const [synced] = await Promise.all([this.podWatch.start(waitMs), this.nsWatch?.start(waitMs)]);
    if (!synced)
      this.log.warn(
        { api: this.from },
        'pods not listed yet: events lack API metadata (workload, pod IP) until they are',
      );
    return synced;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.nodeTimer);
    await Promise.all([this.podWatch.shutdown(), this.nsWatch?.shutdown()]);
  }

  /** The pod with this UID (also a recently deleted one). */
  pod(uid: string): PodMeta | undefined {
    return (this.pods.get(uid) ?? this.recent.get(uid))?.meta;
  }

  /** A container by id (full or 12 characters), from its pod's status, with its pod's metadata. */
  container(id: string): ContainerMeta | undefined {
    return this.containers.get(id);
  }

  /** Calls `fn` after pods change (events that waited for metadata may resolve). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private resetPods(pods: V1Pod[]): void {
    const seen = new Set<string>();
    for (const p of pods) {
      const uid = p.metadata?.uid;
      if (!uid) continue;
      seen.add(uid);
      this.putPod(p, false);
    }
    for (const uid of this.pods.keys()) if (!seen.has(uid)) this.deleteUid(uid, false);
    this.notify();
  }

  private putPod(pod: V1Pod, notify = true): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const prev = this.pods.get(uid);
    if (!prev && this.pods.size >= (this.opts.maxPods ?? 5_000)) {
      this.overflow++;
      if (this.limiter.allow('overflow') >= 0)
        this.log.warn({ max: this.opts.maxPods ?? 5_000 }, 'too many pods on this node: some lack API metadata');
      return;
    }
    const entry = entryOf(pod);
    if (sameOwner(prev, entry)) entry.workload = prev?.workload;
    this.recent.delete(uid);
    this.pods.set(uid, entry);
    this.build(entry, prev);
    if (!entry.workload) void this.resolveOwner(uid, entry);
    if (notify) this.notify();
  }

  private deletePod(pod: V1Pod): void {
    if (pod.metadata?.uid) this.deleteUid(pod.metadata.uid);
  }

  private deleteUid(uid: string, notify = true): void {
    const entry = this.pods.get(uid);
    if (!uid || !entry) return;
    this.pods.delete(uid);
    this.recent.set(uid, entry);
    if (this.recent.size > (this.opts.recentMax ?? 512)) {
      const [oldUid, old] = this.recent.entries().next().value as [string, PodEntry];
      this.recent.delete(oldUid);
      for (const id of old.containerIds) this.containers.delete(id);
    }
    if (notify) this.notify();
  }

  private async resolveOwner(uid: string, entry: PodEntry): Promise<void> {
    const { podNamespace = '', podName = '' } = entry.base;
    const workload = await this.owners.workloadOf(podNamespace, podName, entry.owners);
    if (this.stopped || this.pods.get(uid) !== entry) return;
    entry.workload = workload;
    this.build(entry, entry);
    this.notify();
  }

  /** (Re)computes a pod's metadata object and its containers' (a new identity: enrichers recompute). */
  private build(entry: PodEntry, prev: PodEntry | undefined): void {
    const w = entry.workload;
    entry.meta = {
      ...entry.base,
      workloadKind: w?.kind,
      workloadName: w?.name,
      ownerChain: w?.chain,
      namespaceLabels: this.nsWatch ? this.namespaces.get(entry.base.podNamespace ?? '') : undefined,
      nodeLabels: this.nodeLabels,
    };
    for (const id of prev?.containerIds ?? []) this.containers.delete(id);
    entry.containerIds = [];
    for (const c of entry.containers) {
      const meta = { ...entry.meta, ...c };
      for (const key of [c.id, c.id.slice(0, 12)]) {
        this.containers.set(key, meta);
        entry.containerIds.push(key);
      }
    }
  }

  private rebuildAll(filter: (p: PodEntry) => boolean = () => true): void {
    for (const entry of this.pods.values()) if (filter(entry)) this.build(entry, entry);
    this.notify();
  }

  private async readNode(): Promise<void> {
    try {
      this.nodeReads++;
      const node = await this.core.readNode({ name: this.opts.nodeName });
      const labels = node.metadata?.labels ?? {};
      if (JSON.stringify(labels) !== JSON.stringify(this.nodeLabels ?? null)) {
        this.nodeLabels = labels;
        this.rebuildAll();
      }
    } catch (err) {
      if (this.limiter.allow('node') >= 0)
        this.log.warn(
          { node: this.opts.nodeName, err: describe(err) },
          'cannot read this node: k8s.node.label fields stay empty',
        );
    }
  }

  private notify(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }
}

/** True when a pod update keeps its owners (its workload needs no new resolution). */
function sameOwner(a: PodEntry | undefined, b: PodEntry): boolean {
  return a !== undefined && a.owners.length === b.owners.length && a.owners.every((r, i) => r.uid === b.owners[i].uid);
}

/** The part of a pod enrichment reads (see {@link PodEntry}). */
function entryOf(pod: V1Pod): PodEntry {
  const { metadata: md = {}, spec, status } = pod;
  const privileged = new Map(
    [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].map((c) => [
      c.name,
      c.securityContext?.privileged ?? false,
    ]),
  );
  const statuses: V1ContainerStatus[] = [
    ...(status?.containerStatuses ?? []),
    ...(status?.initContainerStatuses ?? []),
    ...(status?.ephemeralContainerStatuses ?? []),
  ];
  const containers: Array<ContainerPart> = [];
  for (const s of statuses) {
    const id = s.containerID?.replace(/^[a-z-]+:\/\//, '');
    if (!id) continue;
    const ref = parseImageRef(s.image ?? '');
    const digest = s.imageID?.includes('@') ? s.imageID.slice(s.imageID.indexOf('@') + 1) : undefined;
    containers.push({
      id,
      name: s.name,
      image: s.image,
      imageRepository: ref.repository || undefined,
      imageTag: ref.tag,
      imageDigest: ref.digest ?? digest,
      privileged: privileged.get(s.name),
    });
  }
  return {
    base: {
      podName: md.name,
      podNamespace: md.namespace,
      podUid: md.uid,
      podLabels: md.labels ?? {},
      podIp: status?.podIP,
      serviceAccount: spec?.serviceAccountName,
      nodeName: spec?.nodeName,
    },
    owners: (md.ownerReferences ?? []).map(({ kind, name, uid, controller, apiVersion }) => ({
      kind,
      name,
      uid,
      controller,
      apiVersion,
    })),
    containers,
    meta: {},
    containerIds: [],
  };
}
