import type { Clock } from '../clock.js';
import type { ResponseAction } from './response-action.js';
import type { ResponsePolicy } from './response-policy.js';
import type { PodNow } from './response-services.js';
import type { ResponseTarget } from './response-target.js';

/** The guards' settings (config `responses`). */
export interface GuardSettings {
  readonly protectedNamespaces: readonly string[];
  /** Pods with any of these labels are never acted on (`*`: any value). */
  readonly protectedLabels: Readonly<Record<string, string>>;
  /** At most `max` actions applied per `windowSeconds`, on this node. */
  readonly budget: { readonly max: number; readonly windowSeconds: number };
  /** The same, per namespace. */
  readonly namespaceBudget: { readonly max: number; readonly windowSeconds: number };
  /** One action × pod (or process) at most once per this many seconds. */
  readonly dedupSeconds: number;
  /** Pod actions leave at least this many ready replicas of the owner. */
  readonly minHealthyReplicas: number;
}

/** Sliding-window counter (bounded: at most `max` timestamps per key, at most 4,096 keys). */
class Window {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  full(key: string, now: number): boolean {
    const h = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    this.hits.set(key, h);
    return h.length >= this.max;
  }

  add(key: string, now: number): void {
    if (this.hits.size >= 4096 && !this.hits.has(key)) this.hits.delete(this.hits.keys().next().value as string);
    const h = this.hits.get(key) ?? [];
    h.push(now);
    this.hits.set(key, h);
  }
}

/**
 * The guards every action passes before it runs, each a question with a reason when the answer
 * is no: protected namespaces and labels, owner kinds, minimum healthy replicas, budgets (node
 * and namespace) and deduplication. Preconditions (the pod still exists with the same UID, the
 * process's start time) are re-checked just before acting: the pod's here (`pod`), the process's
 * by `process:kill` itself.
 */
export class ResponseGuards {
  private readonly global: Window;
  private readonly perNamespace: Window;
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly settings: GuardSettings,
    private readonly clock: Clock,
  ) {
    this.global = new Window(settings.budget.max, settings.budget.windowSeconds * 1000);
    this.perNamespace = new Window(settings.namespaceBudget.max, settings.namespaceBudget.windowSeconds * 1000);
  }

  /** Guards that need no API: namespace, owner kind, budgets, dedup. Undefined: go on. */
  check(policy: ResponsePolicy, action: ResponseAction, t: ResponseTarget): string | undefined {
    const now = this.clock.now();
    if (t.namespace && this.settings.protectedNamespaces.includes(t.namespace))
      return `protected namespace ${t.namespace}`;
    if (action.podScoped) {
      if (!t.podName || !t.namespace) return 'the alert names no pod (k8s.ns.name, k8s.pod.name)';
      const owner = ownerKind(t.workloadKind);
      if (!policy.ownerKinds.has(owner))
        return `owner kind ${owner}${t.workloadName ? ` (${t.workloadName})` : ''} is not in the policy's owner_kinds`;
    }
    if (this.global.full('', now))
      return `budget exhausted: ${this.settings.budget.max} actions per ${this.settings.budget.windowSeconds} s on this node`;
    if (t.namespace && this.perNamespace.full(t.namespace, now))
      return `budget exhausted in namespace ${t.namespace}: ${this.settings.namespaceBudget.max} actions per ${this.settings.namespaceBudget.windowSeconds} s`;
    const last = this.recent.get(dedupKey(action, t));
    if (last !== undefined && now - last < this.settings.dedupSeconds * 1000)
      return `duplicate: ${action.name} on ${subject(t)} ${Math.round((now - last) / 1000)} s ago`;
    return undefined;
  }

  /** Guards on the pod as the API has it now. Undefined: go on. */
  checkPod(t: ResponseTarget, pod: PodNow | undefined): string | undefined {
    if (!pod) return `pod ${t.namespace}/${t.podName} no longer exists`;
    if (t.podUid && pod.uid !== t.podUid)
      return `pod ${t.namespace}/${t.podName} was replaced (UID ${pod.uid}, the alert's ${t.podUid})`;
    if (pod.terminating) return `pod ${t.namespace}/${t.podName} is already terminating`;
    for (const [k, v] of Object.entries(this.settings.protectedLabels))
      if (k in pod.labels && (v === '*' || pod.labels[k] === v)) return `protected label ${k}=${pod.labels[k]}`;
    return undefined;
  }

  /** The replica guard: undefined when acting leaves enough ready replicas (or the owner has none to count). */
  checkReplicas(t: ResponseTarget, ready: number | undefined): string | undefined {
    if (ready === undefined) return undefined;
    if (ready - 1 < this.settings.minHealthyReplicas)
      return `${t.workloadKind} ${t.workloadName} has ${ready} ready replica${ready === 1 ? '' : 's'}: acting would leave fewer than ${this.settings.minHealthyReplicas}`;
    return undefined;
  }

  /** Counts an applied action against the budgets and the dedup window. */
  record(action: ResponseAction, t: ResponseTarget): void {
    const now = this.clock.now();
    this.global.add('', now);
    if (t.namespace) this.perNamespace.add(t.namespace, now);
    if (this.recent.size >= 16_384) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(dedupKey(action, t), now);
  }
}

/** The owner kind a policy's `owner_kinds` names: the workload's kind; `unknown` when the API could not say. */
export function ownerKind(workloadKind: string | undefined): string {
  return workloadKind ?? 'unknown';
}

function subject(t: ResponseTarget): string {
  return t.podName ? `pod ${t.namespace}/${t.podName}` : `pid ${t.pid ?? '?'}`;
}

function dedupKey(action: ResponseAction, t: ResponseTarget): string {
  return `${action.name} ${t.podName ? `${t.namespace}/${t.podName}` : `pid:${t.pid}:${t.processStartNs}`}`;
}
