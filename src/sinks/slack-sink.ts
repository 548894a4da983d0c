import { z } from 'zod';
import type { Alert } from '../event/index.js';
import { REPEAT_FIELDS } from './folding-sink.js';
import { slackMessage } from './formats/index.js';
import { HttpTransport } from './http-transport.js';
import { SECURE_URL_MESSAGE, commonSinkKeys, isSecureUrl, remoteSinkKeys, sinkPlugin } from './sink-plugin.js';

/** The folded-repeats facts of a follow-up alert (see FoldingSink), if it is one. */
function repeatsOf(a: Alert): { count: number; firstSeen: string; lastSeen: string } | undefined {
  const n = a.output_fields[REPEAT_FIELDS.count];
  return typeof n === 'number'
    ? {
        count: n,
        firstSeen: String(a.output_fields[REPEAT_FIELDS.first]),
        lastSeen: String(a.output_fields[REPEAT_FIELDS.last]),
      }
    : undefined;
}

/** A Slack incoming webhook: Block Kit messages; repeats folded. */
export const slackSinkPlugin = sinkPlugin({
  type: 'slack',
  description:
    'Slack incoming webhook: Block Kit message with priority colour/emoji, where, key fields; repeats folded',
  remote: true,
  schema: z
    .object({ ...commonSinkKeys(60), ...remoteSinkKeys, url: z.string().url() })
    .strict()
    .refine((o) => isSecureUrl(o.url, o.allowInsecure), { message: SECURE_URL_MESSAGE, path: ['url'] }),
  example: { urlFile: '/etc/peregrine/secrets/slack-webhook-url', minPriority: 'Warning' },
  build: (o) => ({
    transport: new HttpTransport({
      url: o.url,
      render: (a) => JSON.stringify(slackMessage(a, repeatsOf(a))),
      timeoutMs: o.timeoutMs,
      connections: o.concurrency,
    }),
  }),
});
