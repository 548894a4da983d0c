import { z } from 'zod';
import { PRIORITIES, parsePriority } from '../event/index.js';
import { SOURCE_PLUGINS } from '../sources/index.js';

const priority = z.string().refine((p) => parsePriority(p) !== undefined, { message: `must be a priority: ${PRIORITIES.join(', ')}` });

/** One source: `type` picks the plug-in; the rest is validated by that plug-in's schema. */
const Source = z.object({ type: z.string() }).passthrough().superRefine((s, ctx) => {
  const plugin = SOURCE_PLUGINS.find((p) => p.type === s.type);
  if (!plugin) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `unknown source type ${JSON.stringify(s.type)}; use one of ${SOURCE_PLUGINS.map((p) => p.type).join(', ')}` });
    return;
  }
  const { type: _type, ...rest } = s;
  const r = plugin.schema.safeParse(rest);
  if (!r.success) for (const i of r.error.issues) ctx.addIssue({ ...i, code: 'custom', message: i.message, path: i.path });
});

const SECURE_URL_MESSAGE = 'must be an https URL (plain http only to loopback, or with allowInsecure: true)';
function secureUrl(w: { url: string; allowInsecure: boolean }): boolean {
  return w.url.startsWith('https://') || w.allowInsecure || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/.test(w.url);
}

/** A rules file published over HTTPS: polled with ETag, pinned by sha256 when given. */
const RulesUrl = z.object({
  url: z.string().url().refine((u) => u.startsWith('https://'), { message: 'must be an https URL' }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters').optional(),
  pollSeconds: z.number().int().min(1).max(86_400).default(300),
  ca: z.string().optional(),
}).strict();

/**
 * The daemon's configuration file (YAML). Every key has a default: an empty file (or none) is
 * the embedded default — the bundled sensor, the bundled rules, JSON alerts on stdout.
 */
export const ConfigSchema = z.object({
  node: z.object({ name: z.string().optional() }).strict().default({}),
  rules: z.object({
    paths: z.array(z.string().min(1)).default(['bundled']),
    urls: z.array(RulesUrl).default([]),
    /** Where fetched rules are kept. */
    cacheDir: z.string().default('/var/lib/peregrine/rules-cache'),
    ruleMatching: z.enum(['first', 'all']).default('first'),
    minPriority: priority.optional(),
  }).strict().default({ paths: ['bundled'], urls: [], cacheDir: '/var/lib/peregrine/rules-cache', ruleMatching: 'first' }),
  sources: z.array(Source).min(1).default([{ type: 'sensor', address: 'unix:///run/peregrine/sensor.sock' }]),
  sinks: z.array(z.discriminatedUnion('type', [
    z.object({ type: z.literal('stdout'), minPriority: priority.optional() }).strict(),
    z.object({ type: z.literal('file'), path: z.string({ message: 'a file sink needs "path"' }).min(1), minPriority: priority.optional() }).strict(),
    z.object({
      type: z.literal('webhook'),
      url: z.string().url(),
      /** Plain http only to loopback, or when explicitly allowed (e.g. an in-cluster Falcosidekick). */
      allowInsecure: z.boolean().default(false),
      headers: z.record(z.string(), z.string()).optional(),
      hmacSecret: z.string().min(1).optional(),
      minPriority: priority.optional(),
      aggregateSeconds: z.number().min(0).default(60),
      queueSize: z.number().int().positive().optional(),
      timeoutMs: z.number().int().positive().optional(),
    }).strict().refine(secureUrl, { message: SECURE_URL_MESSAGE, path: ['url'] }),
    z.object({
      type: z.literal('slack'), url: z.string().url(), allowInsecure: z.boolean().default(false), minPriority: priority.optional(), aggregateSeconds: z.number().min(0).default(60),
      queueSize: z.number().int().positive().optional(), timeoutMs: z.number().int().positive().optional(),
    }).strict().refine(secureUrl, { message: SECURE_URL_MESSAGE, path: ['url'] }),
    z.object({
      type: z.literal('pagerduty'), routingKey: z.string().min(1), region: z.enum(['us', 'eu']).default('us'),
      /** For tests and proxies: replaces PagerDuty's endpoint. */
      url: z.string().url().optional(), allowInsecure: z.boolean().default(false), minPriority: priority.optional(), aggregateSeconds: z.number().min(0).default(60),
      queueSize: z.number().int().positive().optional(), timeoutMs: z.number().int().positive().optional(),
    }).strict().refine((p) => p.url === undefined || secureUrl({ url: p.url, allowInsecure: p.allowInsecure }), { message: SECURE_URL_MESSAGE, path: ['url'] }),
    z.object({
      type: z.literal('alertmanager'), url: z.string().url(), allowInsecure: z.boolean().default(false), resolveAfterMinutes: z.number().positive().default(15), aggregateSeconds: z.number().min(0).default(60),
      minPriority: priority.optional(), queueSize: z.number().int().positive().optional(), timeoutMs: z.number().int().positive().optional(),
    }).strict().refine(secureUrl, { message: SECURE_URL_MESSAGE, path: ['url'] }),
  ])).default([{ type: 'stdout' }]),
  metrics: z.object({ listen: z.string().default('0.0.0.0:8765') }).strict().default({ listen: '0.0.0.0:8765' }),
  log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).strict().default({ level: 'info' }),
}).strict();

/** The validated configuration, defaults filled in. */
export type Config = z.infer<typeof ConfigSchema>;
