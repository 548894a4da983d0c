import { createHash } from 'node:crypto';
import type { Alert, Priority } from '../../event/index.js';
import { alertFacts, alertIdentity } from './alert-facts.js';

/** PagerDuty Events v2 severities from Falco priorities. */
export function pagerdutySeverity(p: Priority): 'critical' | 'error' | 'warning' | 'info' {
  if (p === 'Emergency' || p === 'Alert' || p === 'Critical') return 'critical';
  if (p === 'Error') return 'error';
  if (p === 'Warning') return 'warning';
  return 'info';
}

/** The dedup key: rule × workload × node, so repeats update one incident. */
export function pagerdutyDedupKey(a: Alert): string {
  return `peregrine-${createHash('sha256').update(alertIdentity(a)).digest('hex').slice(0, 32)}`;
}

/** A PagerDuty Events API v2 `trigger` (or `resolve`) for an alert. Pure (golden-tested). */
export function pagerdutyEvent(
  a: Alert,
  routingKey: string,
  action: 'trigger' | 'resolve' = 'trigger',
): Record<string, unknown> {
  const x = alertFacts(a, 50);
  const summary = `${a.rule}${x.pod ? ` in ${x.namespace}/${x.pod}` : ''} on ${x.node}: ${a.output}`.slice(0, 1024);
  return {
    routing_key: routingKey,
    event_action: action,
    dedup_key: pagerdutyDedupKey(a),
    ...(action === 'trigger'
      ? {
          payload: {
            summary,
            source: x.node,
            severity: pagerdutySeverity(a.priority),
            timestamp: a.time,
            component: x.workload ?? x.pod ?? x.container ?? 'host',
            group: x.namespace ?? 'host',
            class: a.rule,
            custom_details: { priority: a.priority, tags: a.tags, ...Object.fromEntries(x.fields) },
          },
        }
      : {}),
  };
}
