import type { Config } from '../config/index.js';
import { parsePriority } from '../event/index.js';
import { FoldingSink, HttpSink, StreamSink, httpSinkTarget, type AlertSink } from '../sinks/index.js';
import type { Logger } from '../telemetry/index.js';

/** Builds the configured sinks (HTTP ones wrapped in repeat folding unless `fold` is false). */
export function buildSinks(
  config: Config,
  opts: { stdout?: NodeJS.WritableStream; logger?: Logger; onOutcome?: (sink: string, outcome: string) => void; fold?: boolean; maxAttempts?: number },
): AlertSink[] {
  return config.sinks.map((s, i) => {
    const name = `${s.type}${config.sinks.length > 1 ? `-${i}` : ''}`;
    const min = s.minPriority ? parsePriority(s.minPriority) : undefined;
    const onOutcome = (outcome: string): void => opts.onOutcome?.(name, outcome);
    if (s.type === 'stdout' || s.type === 'file') {
      return new StreamSink(name, s.type === 'stdout' ? { stdout: opts.stdout ?? process.stdout } : { path: s.path }, min, onOutcome);
    }
    const target = httpSinkTarget(s);
    const url = s.type === 'pagerduty' && s.url ? s.url : target.url;
    const extra = s.type === 'webhook' ? { headers: s.headers, hmacSecret: s.hmacSecret } : {};
    const http = new HttpSink({ name, url, render: target.render, ...extra, minPriority: min, queueSize: s.queueSize, timeoutMs: s.timeoutMs, maxAttempts: opts.maxAttempts, logger: opts.logger, onOutcome });
    // against alert fatigue: repeats per rule × workload × node folded within the window
    return s.aggregateSeconds > 0 && opts.fold !== false ? new FoldingSink(http, s.aggregateSeconds * 1000) : http;
  });
}
