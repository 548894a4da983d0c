import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorMessage, ioErrorText, alertToJson, type Alert } from '../event/index.js';
import { RateLimiter, type Logger } from '../telemetry/index.js';
import type { AlertSink, SinkObserver, SinkStats } from './alert-sink.js';
import { commonSinkKeys, sinkPlugin } from './sink-plugin.js';

/** An alert file that cannot be opened at start-up: says which sink, which file and why. */
export class FileSinkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileSinkError';
  }
}

export interface FileSinkOptions {
  readonly path: string;
  /** Rotate when the file would grow beyond this (0: never). */
  readonly maxBytes: number;
  /** Rotated files kept: `path.1` (newest) … `path.N`. */
  readonly maxFiles: number;
}

/**
 * Falco JSON alerts, one per line, appended to a file. Lines written in one tick are written
 * together (synchronously: a local file keeps up with any alert rate, and rotation stays exact).
 * Size-based rotation of regular files (`path` → `path.1` → … → `path.N`, the oldest deleted;
 * devices and pipes are never rotated); `reopen` (SIGHUP)
 * re-opens `path` so an external logrotate can move it away. Write errors (disk full) are counted
 * as failed, logged at a bounded rate, and the file is re-opened on the next write.
 */
export class FileSink implements AlertSink {
  private fd: number | undefined;
  private size = 0;
  private regular = true;
  private lines: string[] = [];
  private scheduled = false;
  private readonly limiter = new RateLimiter();

  constructor(
    readonly name: string,
    private readonly opts: FileSinkOptions,
    private readonly observer: SinkObserver,
    private readonly log: Logger,
  ) {
    try {
      mkdirSync(dirname(opts.path), { recursive: true });
      this.open();
    } catch (err) {
      // fails start-up saying which file and why
      throw new FileSinkError(
        `file sink ${name}: cannot open ${opts.path}: ${ioErrorText(err)}; check the path and that the agent may write there`,
        { cause: err },
      );
    }
  }

  private open(): void {
    this.fd = openSync(this.opts.path, 'a', 0o640);
    const st = fstatSync(this.fd);
    this.regular = st.isFile(); // a device or pipe (/dev/null, a FIFO) is never rotated
    this.size = st.size;
  }

  write(alert: Alert): void {
    this.lines.push(alertToJson(alert) + '\n');
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    const lines = this.lines;
    this.lines = [];
    let chunk = '';
    let chunkBytes = 0;
    let n = 0;
    const out = (): void => {
      if (!chunk) return;
      this.writeOut(chunk, n);
      chunk = '';
      chunkBytes = 0;
      n = 0;
    };
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      // rotate before a line that would cross the limit (a file holds at least one line)
      if (
        this.regular &&
        this.opts.maxBytes > 0 &&
        this.size + chunkBytes + bytes > this.opts.maxBytes &&
        this.size + chunkBytes > 0
      ) {
        out();
        this.rotate();
      }
      chunk += line;
      chunkBytes += bytes;
      n++;
    }
    out();
  }

  private writeOut(chunk: string, n: number): void {
    try {
      if (this.fd === undefined) this.open();
      const bytes = Buffer.from(chunk);
      for (let off = 0; off < bytes.length;) off += writeSync(this.fd!, bytes, off);
      this.size += bytes.length;
      this.observer.outcome(this.name, 'sent', n);
    } catch (err) {
      this.observer.outcome(this.name, 'failed', n, 'write_error');
      this.closeFd();
      const s = this.limiter.allow('write');
      if (s >= 0)
        this.log.error(
          { sink: this.name, path: this.opts.path, err: errorMessage(err), lost: n, suppressed: s },
          'alert file write failed',
        );
    }
  }

  /** path.N-1 → path.N, …, path → path.1; then a new path. */
  private rotate(): void {
    this.closeFd();
    this.size = 0; // the next write opens a new file (and reads its real size)
    try {
      const p = this.opts.path;
      if (this.opts.maxFiles === 0) unlinkSync(p);
      else {
        if (existsSync(`${p}.${this.opts.maxFiles}`)) unlinkSync(`${p}.${this.opts.maxFiles}`);
        for (let i = this.opts.maxFiles - 1; i >= 1; i--)
          if (existsSync(`${p}.${i}`)) renameSync(`${p}.${i}`, `${p}.${i + 1}`);
        renameSync(p, `${p}.1`);
      }
    } catch (err) {
      const s = this.limiter.allow('rotate');
      if (s >= 0)
        this.log.error(
          { sink: this.name, path: this.opts.path, err: errorMessage(err), suppressed: s },
          'alert file rotation failed; appending to the current file',
        );
    }
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = undefined;
  }

  async flush(): Promise<void> {
    this.drain();
  }

  /** Ready when built. */
  async start(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.drain();
    this.closeFd();
  }

  reopen(): void {
    this.drain();
    this.closeFd();
    try {
      this.open();
    } catch (err) {
      this.log.error(
        { sink: this.name, path: this.opts.path, err: errorMessage(err) },
        'alert file reopen failed; retrying on the next alert',
      );
    }
  }

  get stats(): SinkStats {
    return { queued: this.lines.length, spooled: 0, spoolBytes: 0, up: this.fd !== undefined };
  }
}

export const fileSinkPlugin = sinkPlugin({
  type: 'file',
  description: "Falco's JSON alerts, one per line, appended to a file (size-based rotation; reopened on SIGHUP)",
  remote: false,
  schema: z
    .object({
      ...commonSinkKeys(0),
      path: z.string({ message: 'a file sink needs "path"' }).min(1),
      /** Rotate beyond this size; 0 never rotates (leave it to logrotate + SIGHUP). */
      maxSizeMB: z.number().min(0).default(100),
      /** Rotated files kept (path.1 … path.N). */
      maxFiles: z.number().int().min(0).max(100).default(5),
    })
    .strict(),
  example: { path: '/var/log/peregrine/alerts.jsonl', maxSizeMB: 100, maxFiles: 5 },
  build: (o, ctx) => ({
    sink: new FileSink(
      ctx.name,
      { path: o.path, maxBytes: Math.round(o.maxSizeMB * 1024 * 1024), maxFiles: o.maxFiles },
      ctx.observer,
      ctx.logger,
    ),
  }),
});
