import { z } from 'zod';
import { alertToJson, type Alert } from '../event/index.js';
import { RateLimiter, type Logger } from '../telemetry/index.js';
import type { AlertSink, SinkObserver, SinkStats } from './alert-sink.js';
import { commonSinkKeys, sinkPlugin } from './sink-plugin.js';

/** Bytes of alerts waiting for a slow output before new ones are dropped (and counted). */
const MAX_BUFFERED = 16 * 1024 * 1024;

/**
 * Falco JSON alerts, one per line, to a stream (standard output). Lines written in one tick go
 * out in one write; when the stream does not keep up, alerts beyond 16 MiB waiting are dropped
 * and counted (`dropped{reason=output_slow}`), never buffered without bound.
 */
export class StdoutSink implements AlertSink {
  private buf = '';
  private scheduled = false;

  private readonly limiter = new RateLimiter();

  constructor(
    readonly name: string,
    private readonly out: NodeJS.WritableStream,
    private readonly observer: SinkObserver,
    private readonly log: Logger,
  ) {
    out.on('error', (err: Error) => {
      observer.outcome(name, 'failed', 1, 'write_error');
      const n = this.limiter.allow('error');
      if (n >= 0) log.error({ sink: name, err: err.message, suppressed: n }, 'alert output failed');
    });
  }

  write(alert: Alert): void {
    if (this.buf.length + ((this.out as NodeJS.WriteStream).writableLength ?? 0) > MAX_BUFFERED) {
      this.observer.outcome(this.name, 'dropped', 1, 'output_slow');
      const n = this.limiter.allow('slow');
      if (n >= 0)
        this.log.warn(
          { sink: this.name, suppressed: n },
          'standard output does not keep up: alerts dropped (16 MiB waiting)',
        );
      return;
    }
    this.buf += alertToJson(alert) + '\n';
    this.observer.outcome(this.name, 'sent', 1);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drain();
      });
    }
  }

  private drain(): void {
    if (!this.buf) return;
    const chunk = this.buf;
    this.buf = '';
    this.out.write(chunk);
  }

  flush(): Promise<void> {
    this.drain();
    return new Promise((resolve) => {
      if ((this.out as NodeJS.WriteStream).writableNeedDrain) this.out.once('drain', () => resolve());
      else resolve();
    });
  }

  /** Ready when built. */
  async start(): Promise<void> {}

  shutdown(): Promise<void> {
    return this.flush();
  }

  reopen(): void {
    // standard output is not reopened
  }

  get stats(): SinkStats {
    return { queued: 0, spooled: 0, spoolBytes: 0, up: true };
  }
}

export const stdoutSinkPlugin = sinkPlugin({
  type: 'stdout',
  description: "Falco's JSON alerts, one per line, on standard output (the default)",
  remote: false,
  schema: z.object(commonSinkKeys(0)).strict(),
  example: {},
  build: (_o, ctx) => ({ sink: new StdoutSink(ctx.name, ctx.stdout, ctx.observer, ctx.logger) }),
});
