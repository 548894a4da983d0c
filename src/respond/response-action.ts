import type { z } from 'zod';
import type { Alert, FieldKeyTable, SyscallEvent } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';
import type { ResponseTarget } from './response-target.js';
import type { ResponseServices } from './response-services.js';

/** One Kubernetes RBAC rule an action needs (the agent's ClusterRole is made of these). */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** How one action ended. Every outcome is audited (alert, Kubernetes Event, metric). */
export type Outcome = 'applied' | 'skipped' | 'dry_run' | 'failed';

export interface ActionResult {
  readonly outcome: Outcome;
  /** Why (skipped: the guard that said no; failed: what went wrong; applied: what was done). */
  readonly reason: string;
  /** Extra audit fields (`evidence.path`, `process.signal`…). */
  readonly details?: Readonly<Record<string, string>>;
}

/** What an action is given to act on one alert. */
export interface ActionContext<P> {
  readonly alert: Alert;
  /** The event that raised the alert, when it came from Peregrine's own rules. */
  readonly event?: SyscallEvent;
  readonly table: FieldKeyTable;
  readonly target: ResponseTarget;
  readonly params: P;
  readonly policy: string;
  /** Details recorded by earlier actions of the same policy run (evidence before a kill). */
  readonly shared: Map<string, string>;
  readonly log: Logger;
  readonly services: ResponseServices;
}

/**
 * One kind of response (`process:kill`, `pod:isolate`…): self-describing — its parameters (zod,
 * validated when policies load), the alert fields it cannot act without, and the API permissions
 * it needs — and `run`, which does it. Guards run before `run` (see response-guards.ts); `run`
 * re-checks its own preconditions just before acting and never throws (failures are outcomes).
 */
export interface ResponseAction<P = unknown> {
  readonly name: string;
  readonly description: string;
  readonly parameters: z.ZodType<P>;
  /** Alert fields without which the action is skipped (`proc.pid`, `k8s.pod.name`). */
  readonly requires: readonly string[];
  /** Kubernetes API permissions `run` uses. */
  readonly rbac: readonly PolicyRule[];
  /** True when the action acts on a pod (the pod guards apply: namespaces, labels, owners, replicas). */
  readonly podScoped: boolean;
  run(ctx: ActionContext<P>): Promise<ActionResult>;
}

/** Declares an action (typed parameters, checked by the compiler). */
export function defineAction<P>(a: ResponseAction<P>): ResponseAction<P> {
  return a;
}
