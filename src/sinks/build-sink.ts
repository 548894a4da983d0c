import { join } from 'node:path';
import { silentLogger, type Logger } from '../telemetry/index.js';
import { NO_OBSERVER, type AlertSink, type SinkObserver } from './alert-sink.js';
import { DeliveringSink } from './delivering-sink.js';
import { DiskSpool } from './disk-spool.js';
import { FilteringSink } from './filtering-sink.js';
import { FoldingSink } from './folding-sink.js';
import { ResolvingSink } from './resolving-sink.js';
import { minPriorityOf, type RemoteSinkOptions } from './sink-plugin.js';
import { sinkPluginFor } from './sink-registry.js';
import type { Clock } from '../clock.js';

export interface BuildSinkOptions {
  readonly name: string;
  readonly logger?: Logger;
  readonly observer?: SinkObserver;
  readonly stdout?: NodeJS.WritableStream;
  /** Spool directories go under this (one per sink, by name); absent: remote sinks do not spool. */
  readonly spoolDir?: string;
  readonly spoolMaxBytes?: number;
  /** False sends every alert (no folding), whatever the sink's aggregateSeconds. */
  readonly fold?: boolean;
  /** False skips the sink's filter (`alerts test` reaches every sink). */
  readonly filter?: boolean;
  /** Overrides the sink's maxAttempts (`alerts test` tries twice). */
  readonly maxAttempts?: number;
  /** Time for folding windows, quiet periods and retries (default: the system clock; tests move their own). */
  readonly clock?: Clock;
}

/**
 * Builds one configured sink (`{ type, ...options }`, validated by its plug-in's schema: throws
 * the ZodError) and wraps it, outermost first: filter (priority, rules, tags) → resolution of
 * quiet problems (plug-ins that ask) → folding of repeats → delivery (queue, retries, spool;
 * remote sinks). Throws SpoolError when the spool directory cannot be used.
 */
export function buildSink(
  config: { readonly type: string } & Readonly<Record<string, unknown>>,
  opts: BuildSinkOptions,
): AlertSink {
  const { type, ...raw } = config;
  const plugin = sinkPluginFor(type);
  if (!plugin) throw new Error(`unknown sink type ${JSON.stringify(type)}`);
  const o = plugin.schema.parse(raw);
  const observer = opts.observer ?? NO_OBSERVER;
  const logger = opts.logger ?? silentLogger();
  const built = plugin.build(o, { name: opts.name, logger, observer, stdout: opts.stdout ?? process.stdout });
  let sink: AlertSink;
  let stateDir: string | undefined;
  let resolveAfterMs: number | undefined;
  if ('sink' in built) sink = built.sink;
  else {
    const r = o as RemoteSinkOptions;
    stateDir = opts.spoolDir && r.spool ? join(opts.spoolDir, opts.name) : undefined;
    const spool = stateDir
      ? DiskSpool.open(stateDir, {
          maxBytes: opts.spoolMaxBytes ?? 64 * 1024 * 1024,
          onDrop: (n, reason, err) => delivering.onSpoolDrop(n, reason, err),
        })
      : undefined;
    const delivering = new DeliveringSink({
      name: opts.name,
      transport: built.transport,
      queueSize: r.queueSize,
      concurrency: r.concurrency,
      maxAttempts: opts.maxAttempts ?? r.maxAttempts,
      spool,
      logger,
      observer,
      clock: opts.clock,
    });
    sink = delivering;
    resolveAfterMs = built.resolveAfterMs;
  }
  if (o.aggregateSeconds > 0 && opts.fold !== false)
    sink = new FoldingSink(sink, o.aggregateSeconds * 1000, observer, undefined, opts.clock);
  if (resolveAfterMs)
    sink = new ResolvingSink(sink, resolveAfterMs, stateDir && join(stateDir, 'open-problems.jsonl'), opts.clock);
  const min = minPriorityOf(o);
  return opts.filter !== false && (min || o.rules || o.tags)
    ? new FilteringSink(sink, { minPriority: min, rules: o.rules, tags: o.tags }, observer)
    : sink;
}
