import { z } from 'zod';
import { HttpTransport } from './http-transport.js';
import { SECURE_URL_MESSAGE, commonSinkKeys, isSecureUrl, remoteSinkKeys, sinkPlugin } from './sink-plugin.js';

/** Falco's JSON alert by POST: what Falcosidekick and Falco Talon take as input. */
export const webhookSinkPlugin = sinkPlugin({
  type: 'webhook',
  description:
    "Falco's JSON alert by HTTP POST (Falcosidekick, Falco Talon, any receiver); custom headers, HMAC-SHA256 signature",
  remote: true,
  schema: z
    .object({
      ...commonSinkKeys(60),
      ...remoteSinkKeys,
      url: z.string().url(),
      headers: z.record(z.string(), z.string()).optional(),
      /** Signs each body: `X-Peregrine-Signature: sha256=<hex HMAC-SHA256>`. `hmacSecretFile` reads it from a file. */
      hmacSecret: z.string().min(1).optional(),
    })
    .strict()
    .refine((o) => isSecureUrl(o.url, o.allowInsecure), { message: SECURE_URL_MESSAGE, path: ['url'] }),
  example: { url: 'https://falcosidekick.falco.svc:2801/', hmacSecretFile: '/etc/peregrine/secrets/webhook-hmac' },
  build: (o) => ({
    transport: new HttpTransport({
      url: o.url,
      headers: o.headers,
      hmacSecret: o.hmacSecret,
      timeoutMs: o.timeoutMs,
      connections: o.concurrency,
    }),
  }),
});
