import { z } from 'zod';
import { PRIORITIES, parsePriority, type Priority } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';
import type { AlertSink, SinkObserver } from './alert-sink.js';
import type { AlertTransport } from './alert-transport.js';

/** What a sink plug-in gets from its surroundings. */
export interface SinkContext {
  /** The sink's name (metrics label, log field, spool directory). */
  readonly name: string;
  readonly logger: Logger;
  readonly observer: SinkObserver;
  readonly stdout: NodeJS.WritableStream;
}

/**
 * What a plug-in builds: a local sink (stdout, file) writes itself; a remote one is a transport
 * that the shared delivery wrapper (queue, retries, spool, metrics) drives. `resolveAfterMs`
 * asks for resolutions after that long without a repeat.
 */
export type SinkBuild =
  { readonly sink: AlertSink } | { readonly transport: AlertTransport; readonly resolveAfterMs?: number };

/** What every sink plug-in says about itself; adding a sink is one file and one registry line. */
export interface SinkPlugin {
  readonly type: string;
  readonly description: string;
  /** Remote sinks are wrapped in delivery (queue, retry, spool); local ones are not. */
  readonly remote: boolean;
  /** The whole config schema of one sink of this type, common keys included (`type` excluded). */
  readonly schema: z.ZodType<CommonSinkOptions>;
  /** A working example (without `type`). */
  readonly example: Readonly<Record<string, unknown>>;
  /** Builds the sink from options the schema accepted. */
  build(options: CommonSinkOptions, ctx: SinkContext): SinkBuild;
}

const priority = z
  .string()
  .refine((p) => parsePriority(p) !== undefined, { message: `must be a priority: ${PRIORITIES.join(', ')}` });

/** Keys every sink takes. */
export const commonSinkKeys = (aggregateSeconds: number) => ({
  /** Metrics label, log field and spool directory name; default: the type (`webhook-1` when several). */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-"')
    .optional(),
  minPriority: priority.optional(),
  /** Only these rules (exact names). */
  rules: z.array(z.string().min(1)).min(1).optional(),
  /** Only alerts with at least one of these tags. */
  tags: z.array(z.string().min(1)).min(1).optional(),
  /** Repeats (rule × workload × node) within this window fold into one follow-up; 0 sends every alert. */
  aggregateSeconds: z.number().min(0).max(86_400).default(aggregateSeconds),
});

/** Keys of the delivery wrapper, taken by every remote sink. */
export const remoteSinkKeys = {
  queueSize: z.number().int().min(1).max(1_000_000).default(1000),
  concurrency: z.number().int().min(1).max(64).default(4),
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
  maxAttempts: z.number().int().min(1).max(20).default(4),
  /** Keep alerts on disk while the receiver is down (under `spool.dir`). */
  spool: z.boolean().default(true),
  /** Plain http only to loopback, or when explicitly allowed (an in-cluster Falcosidekick). */
  allowInsecure: z.boolean().default(false),
};

/** Options every sink has after validation. */
export interface CommonSinkOptions {
  readonly name?: string;
  readonly minPriority?: string;
  readonly rules?: readonly string[];
  readonly tags?: readonly string[];
  readonly aggregateSeconds: number;
}

/** Options every remote sink has after validation. */
export interface RemoteSinkOptions extends CommonSinkOptions {
  readonly queueSize: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly spool: boolean;
  readonly allowInsecure: boolean;
}

/** The priority floor of validated options. */
export function minPriorityOf(o: CommonSinkOptions): Priority | undefined {
  return o.minPriority ? parsePriority(o.minPriority) : undefined;
}

export const SECURE_URL_MESSAGE = 'must be an https URL (plain http only to loopback, or with allowInsecure: true)';

/** https, or http to loopback, or explicitly allowed. */
export function isSecureUrl(url: string | undefined, allowInsecure: boolean): boolean {
  return (
    url === undefined ||
    url.startsWith('https://') ||
    allowInsecure ||
    /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/.test(url)
  );
}

/** Declares a plug-in with typed options (the registry validates before `build`). */
export function sinkPlugin<O extends CommonSinkOptions>(p: {
  type: string;
  description: string;
  remote: boolean;
  schema: z.ZodType<O>;
  example: Record<string, unknown>;
  build: (o: O, ctx: SinkContext) => SinkBuild;
}): SinkPlugin {
  return { ...p, schema: p.schema, build: (o, ctx) => p.build(o as O, ctx) };
}
