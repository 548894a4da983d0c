import type { Alert, AlertFieldValue } from '../../event/index.js';

/** What every message format shows about an alert: where it happened and what it touched. */
export interface AlertFacts {
  readonly namespace?: string;
  readonly pod?: string;
  readonly workload?: string;
  readonly node: string;
  readonly container?: string;
  /** Up to `max` output fields, missing ones left out, values as text. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
}

const text = (v: AlertFieldValue | undefined): string | undefined =>
  v === null || v === undefined ? undefined : Array.isArray(v) ? v.join(',') : String(v);

/** Where an alert happened: namespace, pod, workload, node, container (pure). */
function whereOf(a: Alert): Omit<AlertFacts, 'fields'> {
  const f = a.output_fields;
  return {
    namespace: text(f['k8s.ns.name']),
    pod: text(f['k8s.pod.name']),
    workload: text(f['k8s.workload.name']) ?? text(f['k8s.deployment.name']),
    node: a.hostname,
    container: text(f['container.id']),
  };
}

/** Extracts the facts of an alert (pure). */
export function alertFacts(a: Alert, max = 12): AlertFacts {
  const fields = Object.entries(a.output_fields)
    .filter(([k, v]) => v !== null && k !== 'evt.time' && k !== 'evt.time.iso8601')
    .slice(0, max)
    .map(([k, v]) => [k, text(v)!] as const);
  return { ...whereOf(a), fields };
}

/**
 * rule × workload × node: the identity of "the same problem again" (dedup, folding, resolution).
 * On every alert of every sink: reads only the few fields it needs.
 */
export function alertIdentity(a: Alert): string {
  const x = whereOf(a);
  return [a.rule, x.namespace ?? '', x.workload ?? x.pod ?? x.container ?? '', x.node].join('|');
}
