import type { PodIsolations } from './pod-isolations.js';

/** A pod as the guards see it just before acting (see src/k8s KubePods). */
export interface PodNow {
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly terminating: boolean;
}

/**
 * The Kubernetes API operations responses use, implemented by src/k8s (`KubePods`); absent when
 * the agent has no API configuration (pod actions then fail with that reason). Every method
 * rejects with an error whose message says what the API server answered.
 */
export interface PodOperations {
  get(namespace: string, name: string): Promise<PodNow | undefined>;
  patchLabels(namespace: string, name: string, uid: string, labels: Record<string, string | null>): Promise<void>;
  delete(namespace: string, name: string, uid: string, gracePeriodSeconds: number): Promise<void>;
  evict(namespace: string, name: string, uid: string, gracePeriodSeconds: number): Promise<void>;
  event(
    namespace: string,
    pod: { name: string; uid?: string },
    reason: string,
    message: string,
    type: 'Normal' | 'Warning',
  ): Promise<void>;
  readyReplicas(namespace: string, kind: string, workload: string): Promise<number | undefined>;
  /** Marks a node unschedulable. */
  cordon(node: string): Promise<void>;
  /** Creates the namespace's deny-all NetworkPolicy for quarantined pods when it does not exist. */
  ensureQuarantinePolicy(namespace: string, allowDns: boolean): Promise<void>;
}

/** What actions may use besides the alert: the API, and which processes are Peregrine's own. */
export interface ResponseServices {
  readonly pods?: PodOperations;
  /** Processes that must never be killed (the agent, its sensor and their helpers). */
  readonly protectedPids: () => ReadonlySet<number>;
  /** Root of the proc filesystem (tests and containers may move it). */
  readonly procRoot: string;
  /** This node's name (node:cordon). */
  readonly nodeName?: string;
  /** node:cordon may act (responses.allowNodeCordon). */
  readonly allowNodeCordon?: boolean;
  /** Where evidence:capture stores its records. */
  readonly evidenceDir?: string;
  /** Isolated pods (pod:isolate), when the agent keeps them. */
  readonly isolations?: PodIsolations;
  /** Stops a pod's containers at once through the container runtime; false when the runtime has no such pod. */
  readonly stopPodSandbox?: (namespace: string, pod: string) => Promise<boolean>;
}
