import { alertToJson, atLeast, type Alert, type Priority } from '../event/index.js';
import type { AlertSink, SinkStats } from '../sinks/index.js';

/** Output is written in chunks of about this many bytes. */
const OUT_CHUNK = 64 * 1024;

/**
 * Where `peregrine replay` puts alerts: one Falco JSON alert per line on `out`, in order, none
 * dropped. Alerts below `minPriority` (Falco sources' pass-through alerts; rules below it are not
 * loaded) are left out. `write` buffers; `pressure()` flushes once a chunk has built up and waits
 * while `out` is full, which the pipeline awaits between batches (backpressure on the input).
 */
export class ReplayOutput implements AlertSink {
  readonly name = 'replay-output';
  readonly perRule = new Map<string, number>();
  written = 0;
  private buf = '';

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly minPriority?: Priority,
  ) {}

  write(a: Alert): void {
    if (this.minPriority && !atLeast(a.priority, this.minPriority)) return;
    this.written++;
    this.perRule.set(a.rule, (this.perRule.get(a.rule) ?? 0) + 1);
    this.buf += alertToJson(a) + '\n';
  }

  /** Flushes when a chunk has built up (and waits for `out` to drain). */
  async pressure(): Promise<void> {
    if (this.buf.length > OUT_CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.buf) return;
    const chunk = this.buf;
    this.buf = '';
    if (!this.out.write(chunk)) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }

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
