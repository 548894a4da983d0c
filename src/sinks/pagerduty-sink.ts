import { z } from 'zod';
import { pagerdutyEvent } from './formats/index.js';
import { HttpTransport } from './http-transport.js';
import { isResolution } from './resolving-sink.js';
import { SECURE_URL_MESSAGE, commonSinkKeys, isSecureUrl, remoteSinkKeys, sinkPlugin } from './sink-plugin.js';

const ENDPOINTS = {
  us: 'https://events.pagerduty.com/v2/enqueue',
  eu: 'https://events.eu.pagerduty.com/v2/enqueue',
} as const;

/** PagerDuty Events API v2: one incident per rule × workload × node; optional resolve when quiet. */
export const pagerdutySinkPlugin = sinkPlugin({
  type: 'pagerduty',
  description:
    'PagerDuty Events API v2: severity from priority, dedup key rule × workload × node, optional resolve after a quiet period',
  remote: true,
  schema: z
    .object({
      ...commonSinkKeys(60),
      ...remoteSinkKeys,
      /** The integration's routing key (`routingKeyFile` reads it from a file). */
      routingKey: z.string().min(1),
      region: z.enum(['us', 'eu']).default('us'),
      /** Replaces PagerDuty's endpoint (proxies, tests). */
      url: z.string().url().optional(),
      /** Sends `resolve` for an incident after this many minutes without a repeat; absent: never. */
      resolveAfterMinutes: z.number().positive().max(10_080).optional(),
    })
    .strict()
    .refine((o) => isSecureUrl(o.url, o.allowInsecure), { message: SECURE_URL_MESSAGE, path: ['url'] })
    .refine((o) => o.resolveAfterMinutes === undefined || o.aggregateSeconds < o.resolveAfterMinutes * 60, {
      message: 'must be shorter than resolveAfterMinutes, or a repeating problem is resolved between follow-ups',
      path: ['aggregateSeconds'],
    }),
  example: {
    routingKeyFile: '/etc/peregrine/secrets/pagerduty-routing-key',
    region: 'us',
    minPriority: 'Error',
    resolveAfterMinutes: 30,
  },
  build: (o) => ({
    transport: new HttpTransport({
      url: o.url ?? ENDPOINTS[o.region],
      timeoutMs: o.timeoutMs,
      connections: o.concurrency,
      render: (a) => JSON.stringify(pagerdutyEvent(a, o.routingKey, isResolution(a) ? 'resolve' : 'trigger')),
    }),
    resolveAfterMs: o.resolveAfterMinutes === undefined ? undefined : o.resolveAfterMinutes * 60_000,
  }),
});
