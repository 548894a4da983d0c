import type { Alert } from '../../event/index.js';
import { alertFacts } from './alert-facts.js';

/**
 * An Alertmanager API v2 alert (`POST /api/v2/alerts` takes a list): labels from rule,
 * priority, namespace, pod, workload, node; `endsAt` = now + `resolveAfterMs`, refreshed each
 * time the alert repeats. Pure (golden-tested; `now` is given).
 */
export function alertmanagerAlert(a: Alert, now: Date, resolveAfterMs = 15 * 60_000): Record<string, unknown> {
  const x = alertFacts(a);
  const labels: Record<string, string> = {
    alertname: a.rule,
    priority: a.priority.toLowerCase(),
    source: 'peregrine',
    node: x.node,
  };
  if (x.namespace) labels.namespace = x.namespace;
  if (x.pod) labels.pod = x.pod;
  if (x.workload) labels.workload = x.workload;
  return {
    labels,
    annotations: {
      summary: a.output.slice(0, 1024),
      tags: a.tags.join(','),
      ...Object.fromEntries(x.fields.map(([k, v]) => [k.replace(/[^a-zA-Z0-9_]/g, '_'), v])),
    },
    startsAt: a.time,
    endsAt: new Date(now.getTime() + resolveAfterMs).toISOString(),
  };
}
