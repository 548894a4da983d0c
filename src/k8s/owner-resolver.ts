import { AppsV1Api, BatchV1Api, type KubeConfig, type V1OwnerReference } from '@kubernetes/client-node';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { describe } from './resource-watch.js';

/** The workload a pod belongs to, as alerts and response guards name it. */
export interface Workload {
  /** `Deployment`, `ReplicaSet`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, another owner's kind, `StaticPod` or `Pod` (bare). */
  readonly kind: string;
  readonly name: string;
  /** Each owner on the way, nearest first (`ReplicaSet/web-7d4b9`, `Deployment/web`). */
  readonly chain: readonly string[];
}

/** What owner resolution has done (a snapshot). */
export interface OwnerResolverStats {
  /** GET requests for owners (ReplicaSets, Jobs). */
  requests: number;
  failures: number;
  cached: number;
}

export interface OwnerResolverOptions {
  readonly logger?: Logger;
  /** How long a resolved owner is trusted; default 10 minutes. Failures are retried after a tenth of it. */
  readonly ttlMs?: number;
  /** Owners kept; default 4096 (least recently resolved out). */
  readonly max?: number;
}

/** The controller among an object's owner references. */
export function controllerOf(refs: readonly V1OwnerReference[] | undefined): V1OwnerReference | undefined {
  return refs?.find((r) => r.controller) ?? (refs?.length === 1 ? refs[0] : undefined);
}

/**
 * Resolves a pod's owner to its workload, lazily and cached: ReplicaSet → its Deployment, Job →
 * its CronJob (one GET each, the first time an owner is seen; pods of one ReplicaSet share it);
 * StatefulSet, DaemonSet and other controllers are their own workload without a request; a pod
 * owned by its Node is a static pod; a pod with no controller is bare. When the owner cannot be
 * read (RBAC, API down), the nearest owner is the answer, retried later.
 */
export class OwnerResolver {
  readonly stats: OwnerResolverStats = { requests: 0, failures: 0, cached: 0 };
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly cache = new Map<string, { workload: Workload; until: number }>();
  private readonly inflight = new Map<string, Promise<Workload>>();
  private readonly log: Logger;
  private readonly limiter = new RateLimiter(60_000, 2);
  private readonly ttlMs: number;

  constructor(
    config: KubeConfig,
    private readonly opts: OwnerResolverOptions = {},
  ) {
    this.apps = config.makeApiClient(AppsV1Api);
    this.batch = config.makeApiClient(BatchV1Api);
    this.log = opts.logger ?? silentLogger();
    this.ttlMs = opts.ttlMs ?? 600_000;
  }

  /** The workload of a pod named `pod` in `namespace` with these owner references. */
  async workloadOf(namespace: string, pod: string, refs: readonly V1OwnerReference[] | undefined): Promise<Workload> {
    const owner = controllerOf(refs);
    if (!owner) return { kind: 'Pod', name: pod, chain: [] };
    if (owner.kind === 'Node') return { kind: 'StaticPod', name: pod, chain: [`Node/${owner.name}`] };
    const own = `${owner.kind}/${owner.name}`;
    if (owner.kind !== 'ReplicaSet' && owner.kind !== 'Job')
      return { kind: owner.kind, name: owner.name, chain: [own] };
    const key = `${namespace}/${own}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.workload;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(namespace, owner).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetch(namespace: string, owner: V1OwnerReference): Promise<Workload> {
    const own = `${owner.kind}/${owner.name}`;
    const key = `${namespace}/${own}`;
    this.stats.requests++;
    let workload: Workload;
    let ttl = this.ttlMs;
    try {
      const obj =
        owner.kind === 'ReplicaSet'
          ? await this.apps.readNamespacedReplicaSet({ name: owner.name, namespace })
          : await this.batch.readNamespacedJob({ name: owner.name, namespace });
      const up = controllerOf(obj.metadata?.ownerReferences);
      workload =
        up && (up.kind === 'Deployment' || up.kind === 'CronJob')
          ? { kind: up.kind, name: up.name, chain: [own, `${up.kind}/${up.name}`] }
          : { kind: owner.kind, name: owner.name, chain: [own] };
    } catch (err) {
      this.stats.failures++;
      ttl = Math.max(1_000, this.ttlMs / 10);
      if (this.limiter.allow('owner') >= 0)
        this.log.warn(
          { owner: key, err: describe(err) },
          'cannot read a pod owner: its workload is named by the nearest owner until it can',
        );
      workload = { kind: owner.kind, name: owner.name, chain: [own] };
    }
    if (this.cache.size >= (this.opts.max ?? 4096)) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.delete(key);
    this.cache.set(key, { workload, until: Date.now() + ttl });
    this.stats.cached = this.cache.size;
    return workload;
  }
}
