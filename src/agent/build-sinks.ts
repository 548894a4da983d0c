import { sinkName, type Config } from '../config/index.js';
import { buildSink, type AlertSink, type SinkObserver } from '../sinks/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Clock } from '../clock.js';

/**
 * Builds the configured sinks, each wrapped by `buildSink` (filter, resolution, folding,
 * delivery with the spool under `spool.dir`). For `alerts test`: `spool: false` never touches
 * the spool, `fold: false` sends every alert, `filter: false` reaches every sink.
 */
export function buildSinks(
  config: Config,
  opts: {
    stdout?: NodeJS.WritableStream;
    logger?: Logger;
    observer?: SinkObserver;
    fold?: boolean;
    filter?: boolean;
    maxAttempts?: number;
    spool?: boolean;
    clock?: Clock;
  },
): AlertSink[] {
  return config.sinks.map((s, i) =>
    buildSink(s as { type: string } & Record<string, unknown>, {
      name: sinkName(config.sinks as ReadonlyArray<{ type: string; name?: unknown }>, i),
      logger: opts.logger,
      observer: opts.observer,
      stdout: opts.stdout,
      spoolDir: opts.spool === false ? undefined : config.spool.dir,
      spoolMaxBytes: config.spool.maxMiBPerSink * 1024 * 1024,
      fold: opts.fold,
      filter: opts.filter,
      maxAttempts: opts.maxAttempts,
      clock: opts.clock,
    }),
  );
}
