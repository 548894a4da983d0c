import { z } from 'zod';
import { alertmanagerAlert } from './formats/index.js';
import { HttpTransport } from './http-transport.js';
import { SECURE_URL_MESSAGE, commonSinkKeys, isSecureUrl, remoteSinkKeys, sinkPlugin } from './sink-plugin.js';

/** Prometheus Alertmanager API v2; `endsAt` moves forward each time the alert repeats. */
export const alertmanagerSinkPlugin = sinkPlugin({
  type: 'alertmanager',
  description:
    'Prometheus Alertmanager (POST /api/v2/alerts): labels rule, priority, namespace, pod, workload, node; endsAt refreshed while repeating',
  remote: true,
  schema: z
    .object({
      ...commonSinkKeys(60),
      ...remoteSinkKeys,
      /** Alertmanager's base URL (`/api/v2/alerts` is appended). */
      url: z.string().url(),
      /** `endsAt` = delivery time + this; each repeat (or folded follow-up) moves it forward. */
      resolveAfterMinutes: z.number().positive().max(10_080).default(15),
    })
    .strict()
    .refine((o) => isSecureUrl(o.url, o.allowInsecure), { message: SECURE_URL_MESSAGE, path: ['url'] })
    .refine((o) => o.aggregateSeconds < o.resolveAfterMinutes * 60, {
      message: 'must be shorter than resolveAfterMinutes, or a repeating alert resolves between follow-ups',
      path: ['aggregateSeconds'],
    }),
  example: { url: 'http://alertmanager.monitoring.svc:9093', allowInsecure: true, resolveAfterMinutes: 15 },
  build: (o) => ({
    transport: new HttpTransport({
      url: `${o.url.replace(/\/+$/, '')}/api/v2/alerts`,
      timeoutMs: o.timeoutMs,
      connections: o.concurrency,
      render: (a) => JSON.stringify([alertmanagerAlert(a, new Date(), o.resolveAfterMinutes * 60_000)]),
    }),
  }),
});
