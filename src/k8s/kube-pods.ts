import {
  AppsV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
} from '@kubernetes/client-node';
import type { FoundKubeConfig } from './kube-config.js';
import { describe } from './resource-watch.js';

/** A pod as the response guards see it, read just before acting. */
export interface PodState {
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeName?: string;
  /** Set once the pod is being deleted. */
  readonly terminating: boolean;
}

/** Thrown for a request the API server refused or could not answer; `message` says which and why. */
export class KubeRequestError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'KubeRequestError';
  }
}

/** The API permissions {@link KubePods} uses, by method (each action declares what it calls). */
export const KUBE_PODS_RBAC = {
  get: { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  patch: { apiGroups: [''], resources: ['pods'], verbs: ['patch'] },
  delete: { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
  evict: { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  event: { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  replicas: { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets'], verbs: ['get'] },
  networkPolicy: { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create'] },
} as const;

/**
 * The pod operations responses need, over the Kubernetes API: read a pod (preconditions), patch
 * its labels (JSON merge patch), delete it with a grace period (UID precondition: never another
 * pod of the same name), evict it (PodDisruptionBudgets respected), record an Event on it, and
 * read a workload's ready replicas. Every failure is a {@link KubeRequestError} saying what the
 * API server answered.
 */
export class KubePods {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly net: NetworkingV1Api;
  /** Namespaces whose quarantine policy is known to exist (created once). */
  private readonly policies = new Set<string>();

  /**
   * @param timeoutMs every request's deadline (default 10 s): a wedged API server fails an action
   * with a reason instead of holding the responder's slots (and the kills queued behind them).
   */
  constructor(
    found: FoundKubeConfig,
    private readonly timeoutMs = 10_000,
  ) {
    this.core = bounded(found.config.makeApiClient(CoreV1Api), timeoutMs);
    this.apps = bounded(found.config.makeApiClient(AppsV1Api), timeoutMs);
    this.net = bounded(found.config.makeApiClient(NetworkingV1Api), timeoutMs);
  }

  /**
   * The namespace's quarantine NetworkPolicy: pods labelled `peregrine.dev/quarantine` get no
   * ingress and no egress (with value `dns`: egress to port 53 only). Created once, labelled as
   * managed by Peregrine; an existing one is left as it is.
   */
  async ensureQuarantinePolicy(namespace: string, allowDns: boolean): Promise<void> {
    const name = allowDns ? 'peregrine-quarantine-dns' : 'peregrine-quarantine';
    if (this.policies.has(`${namespace}/${name}`)) return;
    const body = {
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'peregrine' } },
      spec: {
        podSelector: { matchLabels: { 'peregrine.dev/quarantine': allowDns ? 'dns' : 'true' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: allowDns
          ? [
              {
                ports: [
                  { protocol: 'UDP', port: 53 },
                  { protocol: 'TCP', port: 53 },
                ],
              },
            ]
          : [],
      },
    };
    try {
      await this.net.createNamespacedNetworkPolicy({ namespace, body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw fail(`create NetworkPolicy ${namespace}/${name}`, err);
    }
    this.policies.add(`${namespace}/${name}`);
  }

  /** The pod now, or undefined when it does not exist. */
  async get(namespace: string, name: string): Promise<PodState | undefined> {
    try {
      const p = await this.core.readNamespacedPod({ name, namespace });
      return {
        uid: p.metadata?.uid ?? '',
        labels: p.metadata?.labels ?? {},
        nodeName: p.spec?.nodeName,
        terminating: p.metadata?.deletionTimestamp !== undefined,
      };
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw fail(`get pod ${namespace}/${name}`, err);
    }
  }

  /** Sets (string) or removes (null) labels with a JSON merge patch that also pins the UID. */
  async patchLabels(
    namespace: string,
    name: string,
    uid: string,
    labels: Record<string, string | null>,
  ): Promise<void> {
    try {
      await this.core.patchNamespacedPod(
        { name, namespace, body: { metadata: { uid, labels } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw fail(`patch labels of pod ${namespace}/${name}`, err);
    }
  }

  /** Deletes the pod (only this UID) with a grace period, so its controller replaces it. */
  async delete(namespace: string, name: string, uid: string, gracePeriodSeconds: number): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        name,
        namespace,
        body: { gracePeriodSeconds, preconditions: { uid } },
      });
    } catch (err) {
      throw fail(`delete pod ${namespace}/${name}`, err);
    }
  }

  /** Evicts the pod through the Eviction API (refused with 429 while a PodDisruptionBudget forbids it). */
  async evict(namespace: string, name: string, uid: string, gracePeriodSeconds: number): Promise<void> {
    try {
      await this.core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          deleteOptions: { gracePeriodSeconds, preconditions: { uid } },
        },
      });
    } catch (err) {
      throw fail(`evict pod ${namespace}/${name}`, err);
    }
  }

  /** Marks a node unschedulable (a merge patch of `spec.unschedulable`). */
  async cordon(node: string): Promise<void> {
    try {
      await this.core.patchNode(
        { name: node, body: { spec: { unschedulable: true } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw fail(`cordon node ${node}`, err);
    }
  }

  /** Records a Kubernetes Event on the pod (`kubectl describe pod` shows it). */
  async event(
    namespace: string,
    pod: { name: string; uid?: string },
    reason: string,
    message: string,
    type: 'Normal' | 'Warning',
    component = 'peregrine',
  ): Promise<void> {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { generateName: `${pod.name}.`, namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace, uid: pod.uid },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.core.createNamespacedEvent({ namespace, body });
    } catch (err) {
      throw fail(`record an event on pod ${namespace}/${pod.name}`, err);
    }
  }

  /** Ready replicas of a Deployment, StatefulSet or ReplicaSet; undefined for other kinds. */
  async readyReplicas(namespace: string, kind: string, workload: string): Promise<number | undefined> {
    try {
      const w =
        kind === 'Deployment'
          ? await this.apps.readNamespacedDeployment({ name: workload, namespace })
          : kind === 'StatefulSet'
            ? await this.apps.readNamespacedStatefulSet({ name: workload, namespace })
            : kind === 'ReplicaSet'
              ? await this.apps.readNamespacedReplicaSet({ name: workload, namespace })
              : undefined;
      return w ? (w.status?.readyReplicas ?? 0) : undefined;
    } catch (err) {
      throw fail(`read ${kind} ${namespace}/${workload}`, err);
    }
  }
}

/** The API client with a deadline on every call: a call past it rejects (the request is abandoned). */
function bounded<T extends object>(api: T, ms: number): T {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]): unknown => {
        const call = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (!(call instanceof Promise)) return call;
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer from the API server within ${ms} ms`)), ms);
        });
        return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
      };
    },
  });
}

function fail(what: string, err: unknown): KubeRequestError {
  const status = (err as { code?: unknown }).code;
  return new KubeRequestError(typeof status === 'number' ? status : undefined, `${what}: ${describe(err)}`);
}
