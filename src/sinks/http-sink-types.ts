import type { Alert } from '../event/index.js';
import { REPEAT_FIELDS } from './folding-sink.js';
import { alertmanagerAlert, pagerdutyEvent, slackMessage } from './formats/index.js';

/** The folded-repeats facts of a follow-up alert (see FoldingSink), if it is one. */
function repeatsOf(a: Alert): { count: number; firstSeen: string; lastSeen: string } | undefined {
  const n = a.output_fields[REPEAT_FIELDS.count];
  return typeof n === 'number' ? { count: n, firstSeen: String(a.output_fields[REPEAT_FIELDS.first]), lastSeen: String(a.output_fields[REPEAT_FIELDS.last]) } : undefined;
}

/** The HTTP sink plug-ins: each is an endpoint and a message format; delivery is HttpSink's. */
export type HttpSinkConfig =
  | { readonly type: 'webhook'; readonly url: string }
  | { readonly type: 'slack'; readonly url: string }
  | { readonly type: 'pagerduty'; readonly routingKey: string; readonly region?: 'us' | 'eu' }
  | { readonly type: 'alertmanager'; readonly url: string; readonly resolveAfterMinutes?: number };

/** The URL and body renderer of an HTTP sink plug-in. */
export function httpSinkTarget(c: HttpSinkConfig): { url: string; render?: (a: Alert) => string } {
  switch (c.type) {
    case 'webhook':
      return { url: c.url };
    case 'slack':
      return { url: c.url, render: (a) => JSON.stringify(slackMessage(a, repeatsOf(a))) };
    case 'pagerduty':
      return {
        url: c.region === 'eu' ? 'https://events.eu.pagerduty.com/v2/enqueue' : 'https://events.pagerduty.com/v2/enqueue',
        render: (a) => JSON.stringify(pagerdutyEvent(a, c.routingKey)),
      };
    case 'alertmanager':
      return {
        url: `${c.url.replace(/\/+$/, '')}/api/v2/alerts`,
        render: (a) => JSON.stringify([alertmanagerAlert(a, new Date(), (c.resolveAfterMinutes ?? 15) * 60_000)]),
      };
  }
}
