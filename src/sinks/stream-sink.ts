import { createWriteStream, type WriteStream } from 'node:fs';
import { alertToJson, atLeast, type Alert, type Priority } from '../event/index.js';
import type { AlertSink } from './alert-sink.js';

/** Bytes of alerts waiting for a slow output before new ones are dropped (and counted). */
const MAX_BUFFERED = 16 * 1024 * 1024;

/** Falco JSON alerts, one per line, to stdout or a file (appended). */
export class StreamSink implements AlertSink {
  private readonly out: NodeJS.WritableStream;
  private buf = '';
  private scheduled = false;
  /** Delivered and failed counts. */
  readonly counts = { sent: 0, failed: 0 };

  constructor(
    readonly name: string,
    target: { stdout: NodeJS.WritableStream } | { path: string },
    private readonly minPriority?: Priority,
    private readonly onOutcome?: (outcome: 'sent' | 'failed' | 'filtered' | 'dropped') => void,
  ) {
    this.out = 'stdout' in target ? target.stdout : createWriteStream(target.path, { flags: 'a' });
    this.out.on('error', () => {
      this.counts.failed++;
      this.onOutcome?.('failed');
    });
  }

  write(alert: Alert): void {
    if (this.minPriority && !atLeast(alert.priority, this.minPriority)) {
      this.onOutcome?.('filtered');
      return;
    }
    // Bounded: when the output does not keep up, alerts beyond MAX_BUFFERED are dropped, counted.
    if (this.buf.length + ((this.out as WriteStream).writableLength ?? 0) > MAX_BUFFERED) {
      this.counts.failed++;
      this.onOutcome?.('dropped');
      return;
    }
    this.buf += alertToJson(alert) + '\n';
    this.counts.sent++;
    this.onOutcome?.('sent');
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drainBuffer();
      });
    }
  }

  private drainBuffer(): void {
    if (!this.buf) return;
    const chunk = this.buf;
    this.buf = '';
    this.out.write(chunk);
  }

  flush(): Promise<void> {
    this.drainBuffer();
    return new Promise((resolve) => {
      if ((this.out as WriteStream).writableNeedDrain) this.out.once('drain', () => resolve());
      else resolve();
    });
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.out !== process.stdout && 'end' in this.out) await new Promise<void>((r) => (this.out as WriteStream).end(() => r()));
  }
}
