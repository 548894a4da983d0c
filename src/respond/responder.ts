import {
  errorMessage,
  isoNanos,
  priorityRank,
  SyscallEvent,
  type Alert,
  type AlertFieldValue,
  type FieldKeyTable,
  type FieldValue,
  type Priority,
} from '../event/index.js';
import { RateLimiter, type Logger } from '../telemetry/index.js';
import { SYSTEM_CLOCK, type Clock } from '../clock.js';
import type { ActionResult, Outcome, ResponseAction } from './response-action.js';
import { ResponseGuards, type GuardSettings } from './response-guards.js';
import type { PriorityMatch, ResponsePolicy } from './response-policy.js';
import type { ResponseServices } from './response-services.js';
import { targetOf, type ResponseTarget } from './response-target.js';

/** Where each outcome is counted (the agent's metrics). */
export interface ResponseMetrics {
  outcome(action: string, outcome: Outcome): void;
  /** Seconds from the event to the action done. */
  latency(action: string, seconds: number): void;
}

export interface ResponderOptions extends GuardSettings {
  readonly table: FieldKeyTable;
  readonly services: ResponseServices;
  readonly log: Logger;
  readonly metrics: ResponseMetrics;
  /** Sends an audit alert to the sinks (the pipeline's emit). */
  readonly audit: (alert: Alert) => void;
  readonly hostname: string;
  /** Every policy dry-run. */
  readonly dryRun: boolean;
  /** Policy runs waiting at most (the rest are counted as failed: `queue full`). Default 1,000. */
  readonly queueMax?: number;
  readonly clock?: Clock;
}

/** One audited outcome (also kept, bounded, for `stats.last` and tests). */
export interface ResponseRecord {
  readonly policy: string;
  readonly action: string;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly target: ResponseTarget;
}

/**
 * Turns alerts into responses: each alert is matched against the policies in order (the first
 * match ends the search unless it says `continue`), and a matching policy's actions run in
 * order, each behind the guards, each outcome audited — an alert `Peregrine response: ACTION`
 * to the sinks, a Kubernetes Event on the pod, `peregrine_responses_total{action,outcome}` and
 * the latency from the event. Matching is synchronous and cheap; actions run asynchronously,
 * a bounded queue of policy runs deep. Alerts about Peregrine itself are never responded to.
 */
export class Responder {
  readonly stats = { matched: 0, queued: 0, dropped: 0, outcomes: 0 };
  /** The last outcomes (at most 100), newest last. */
  readonly last: ResponseRecord[] = [];
  private policies: readonly ResponsePolicy[] = [];
  private readonly guards: ResponseGuards;
  private readonly clock: Clock;
  private readonly limiter = new RateLimiter();
  private running = 0;
  private readonly queue: Array<() => Promise<void>> = [];
  private readonly idle: Array<() => void> = [];

  constructor(private readonly opts: ResponderOptions) {
    this.clock = opts.clock ?? SYSTEM_CLOCK;
    this.guards = new ResponseGuards(opts, this.clock);
  }

  /** Replaces the policies (a reload); runs in progress finish with the ones they started with. */
  setPolicies(policies: readonly ResponsePolicy[]): void {
    this.policies = policies;
  }

  get policyCount(): number {
    return this.policies.length;
  }

  /** An alert from the pipeline, with the event that raised it when there is one. Never throws. */
  onAlert(alert: Alert, event?: SyscallEvent): void {
    if (alert.source === 'internal' || alert.rule.startsWith('Peregrine ')) return;
    let matched: ResponsePolicy[] | undefined;
    for (const p of this.policies) {
      if (!this.matches(p, alert, event)) continue;
      (matched ??= []).push(p);
      if (!p.continue) break;
    }
    if (!matched) return;
    this.stats.matched++;
    const target = targetOf(alert, event, this.opts.table);
    for (const p of matched) this.enqueue(() => this.runPolicy(p, alert, event, target));
  }

  /** Resolves when every queued run has finished (or at once when none is). */
  settled(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private matches(p: ResponsePolicy, alert: Alert, event: SyscallEvent | undefined): boolean {
    if (p.rules && !p.rules.has(alert.rule)) return false;
    if (p.priority && !comparePriority(alert.priority, p.priority)) return false;
    if (p.tags && !p.tags.some((t) => alert.tags.includes(t))) return false;
    if (p.condition) {
      try {
        return p.condition.pred(event ?? this.eventOf(alert));
      } catch {
        return false;
      }
    }
    return true;
  }

  /** An event made of an alert's output fields, for conditions over alerts that came without one. */
  private eventOf(alert: Alert): SyscallEvent {
    const values: Array<FieldValue | undefined> = [];
    for (const [k, v] of Object.entries(alert.output_fields)) {
      const slot = this.opts.table.idOf(k);
      if (slot >= 0 && v !== null) values[slot] = v;
    }
    return new SyscallEvent(values);
  }

  private enqueue(job: () => Promise<void>): void {
    if (this.queue.length >= (this.opts.queueMax ?? 1_000)) {
      this.stats.dropped++;
      this.opts.metrics.outcome('*', 'failed');
      const n = this.limiter.allow('queue');
      if (n >= 0) this.opts.log.error({ suppressed: n }, 'responses: queue full; a matched policy did not run');
      return;
    }
    this.stats.queued++;
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.running < 8 && this.queue.length) {
      const job = this.queue.shift()!;
      this.running++;
      void job()
        .catch((err: unknown) => this.opts.log.error({ err: errorMessage(err) }, 'responses: a policy run failed'))
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
        });
    }
  }

  private async runPolicy(
    p: ResponsePolicy,
    alert: Alert,
    event: SyscallEvent | undefined,
    target: ResponseTarget,
  ): Promise<void> {
    const shared = new Map<string, string>();
    const dry = this.opts.dryRun || p.dryRun;
    let podChecked: string | undefined | null = null; // null: not yet asked
    for (const { action, params } of p.actions) {
      let result: ActionResult;
      const missing = action.requires.find((f) => !hasField(alert, event, this.opts.table, f));
      const no = missing
        ? `the alert has no ${missing}, which ${action.name} needs`
        : this.guards.check(p, action, target);
      if (no) result = { outcome: 'skipped', reason: no };
      else {
        let podNo: string | undefined;
        if (action.podScoped) {
          if (podChecked === null) podChecked = await this.checkPod(target, shared);
          podNo = podChecked;
        }
        if (podNo) result = { outcome: 'skipped', reason: podNo };
        else if (dry) result = { outcome: 'dry_run', reason: `would run ${action.name} (dry run)` };
        else {
          result = await action
            .run({
              alert,
              event,
              table: this.opts.table,
              target,
              params,
              policy: p.name,
              shared,
              log: this.opts.log,
              services: this.opts.services,
            })
            .catch((err: unknown) => ({ outcome: 'failed' as const, reason: errorMessage(err) }));
          if (result.outcome === 'applied') this.guards.record(action, target);
        }
      }
      for (const [k, v] of Object.entries(result.details ?? {})) shared.set(k, v);
      this.audit(p, action, alert, target, result);
    }
  }

  /** The pod guards, on the pod as the API has it now; undefined: go on. Also remembers its UID for the actions. */
  private async checkPod(t: ResponseTarget, shared: Map<string, string>): Promise<string | undefined> {
    const pods = this.opts.services.pods;
    if (!pods) return 'no Kubernetes API configured: pod actions cannot be checked or applied';
    try {
      const pod = await pods.get(t.namespace!, t.podName!);
      const no = this.guards.checkPod(t, pod);
      if (no) return no;
      shared.set('pod.uid', pod!.uid);
      if (t.workloadKind && t.workloadName)
        return this.guards.checkReplicas(t, await pods.readyReplicas(t.namespace!, t.workloadKind, t.workloadName));
      return undefined;
    } catch (err) {
      return `cannot check the pod: ${errorMessage(err)}`;
    }
  }

  private audit(p: ResponsePolicy, action: ResponseAction, alert: Alert, t: ResponseTarget, r: ActionResult): void {
    this.stats.outcomes++;
    this.opts.metrics.outcome(action.name, r.outcome);
    const nowNs = BigInt(this.clock.now()) * 1_000_000n;
    const hrNs = BigInt(Date.now()) * 1_000_000n;
    // from the event's kernel timestamp to now (wall clock; the event's time is the sensor's wall clock)
    const latencyMs = t.eventNs !== undefined && t.eventNs <= hrNs ? Number(hrNs - t.eventNs) / 1e6 : undefined;
    if (r.outcome === 'applied' && latencyMs !== undefined) this.opts.metrics.latency(action.name, latencyMs / 1e3);
    this.last.push({ policy: p.name, action: action.name, outcome: r.outcome, reason: r.reason, target: t });
    if (this.last.length > 100) this.last.shift();
    const subject = t.podName ? `pod ${t.namespace}/${t.podName}` : t.pid !== undefined ? `pid ${t.pid}` : 'the alert';
    const fields: Record<string, AlertFieldValue> = {
      'response.policy': p.name,
      'response.action': action.name,
      'response.outcome': r.outcome,
      'response.reason': r.reason,
      'response.rule': alert.rule,
      'k8s.ns.name': t.namespace ?? null,
      'k8s.pod.name': t.podName ?? null,
      'k8s.workload.kind': t.workloadKind ?? null,
      'k8s.workload.name': t.workloadName ?? null,
      'proc.pid': t.pid ?? null,
      'response.latency_ms': latencyMs !== undefined ? Math.round(latencyMs * 1000) / 1000 : null,
      ...r.details,
    };
    this.opts.audit({
      time: isoNanos(nowNs),
      rule: `Peregrine response: ${action.name}`,
      priority: AUDIT_PRIORITY[r.outcome],
      source: 'internal',
      tags: ['peregrine', 'response'],
      hostname: this.opts.hostname,
      output: `Response ${action.name} ${r.outcome} on ${subject} (policy ${p.name}, rule ${alert.rule}): ${r.reason}`,
      output_fields: fields,
    });
    const pods = this.opts.services.pods;
    if (pods && t.namespace && t.podName)
      void pods
        .event(
          t.namespace,
          { name: t.podName, uid: t.podUid },
          `PeregrineResponse`,
          `${action.name} ${r.outcome} (policy ${p.name}, rule ${alert.rule}): ${r.reason}`,
          r.outcome === 'applied' || r.outcome === 'failed' ? 'Warning' : 'Normal',
        )
        .catch((err: unknown) => {
          const n = this.limiter.allow('event');
          if (n >= 0)
            this.opts.log.warn(
              { err: errorMessage(err), suppressed: n },
              'responses: cannot record a Kubernetes Event',
            );
        });
  }
}

const AUDIT_PRIORITY: Readonly<Record<Outcome, Priority>> = {
  applied: 'Warning',
  failed: 'Error',
  skipped: 'Notice',
  dry_run: 'Notice',
};

/** `Warning` against `>= Notice`: ranks run from Emergency (0) to Debug (7), so "higher" is a lower rank. */
function comparePriority(p: Priority, m: PriorityMatch): boolean {
  const a = priorityRank(p);
  const b = priorityRank(m.priority);
  switch (m.op) {
    case '>=':
      return a <= b;
    case '>':
      return a < b;
    case '<=':
      return a >= b;
    case '<':
      return a > b;
    case '==':
      return a === b;
  }
}

/** True when the alert's event (or, without one, its output fields) has a value for `field`. */
function hasField(alert: Alert, event: SyscallEvent | undefined, table: FieldKeyTable, field: string): boolean {
  const v = event?.get(table, field) ?? alert.output_fields[field];
  return v !== undefined && v !== null && v !== '' && v !== '<NA>';
}
