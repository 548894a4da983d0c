import { createReadStream } from 'node:fs';
import {
  ioErrorText,
  EventDecodeError,
  FlatEventDecoder,
  type FieldKeyTable,
  type SyscallEvent,
} from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { emptyStats, type EventSource, type SourceBatch, type SourceStats } from './event-source.js';
import { readReplay } from './replay-reader.js';
import { SourceBuffer } from './source-buffer.js';
import { z } from 'zod';
import { defineSourcePlugin } from './source-plugin.js';

export interface ReplaySourceOptions {
  /** A JSON Lines file, or `-` for standard input. */
  readonly path: string;
  /** Stop at the first bad line (the error is reported through `failure`). */
  readonly strict?: boolean;
  readonly batchSize?: number;
  readonly name?: string;
  readonly logger?: Logger;
  readonly stdin?: NodeJS.ReadableStream;
  /** Called for each bad line (after counting it), e.g. to report it on a terminal. */
  readonly onBadLine?: (err: EventDecodeError) => void;
}

/**
 * JSON Lines events (flat Falco field names per line) as a source: the same plug-in interface
 * as the live sources, so `peregrine replay`, rule tests and the daemon share one path.
 * Bad lines are counted as malformed (logged at a bounded rate) and skipped unless `strict`.
 * The iterator ends at the end of the input.
 */
export class ReplaySource implements EventSource {
  readonly name: string;
  readonly stats: SourceStats = emptyStats();
  /** Set when a strict replay stopped at a bad line, or the input could not be read. */
  failure: Error | undefined;
  private readonly buffer = new SourceBuffer(16_384);
  private readonly decoder: FlatEventDecoder;
  private readonly log: Logger;
  private readonly limiter = new RateLimiter(10_000, 20);
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly opts: ReplaySourceOptions,
    table: FieldKeyTable,
  ) {
    this.name = opts.name ?? 'replay';
    this.decoder = new FlatEventDecoder(table);
    this.log = opts.logger ?? silentLogger();
  }

  async start(): Promise<void> {
    const input = this.opts.path === '-' ? (this.opts.stdin ?? process.stdin) : createReadStream(this.opts.path);
    this.stats.connected = true;
    this.stats.connects++;
    this.done = this.pump(input);
  }

  private async pump(input: NodeJS.ReadableStream): Promise<void> {
    const size = this.opts.batchSize ?? 512;
    let batch: SyscallEvent[] = [];
    const flush = async (): Promise<void> => {
      if (!batch.length) return;
      const b: SourceBatch = { kind: 'events', source: this.name, events: batch };
      batch = [];
      // Replay never drops: it waits for the pipeline instead.
      while (!this.buffer.offer(b)) await new Promise<void>((r) => this.buffer.onDrain(r));
    };
    try {
      for await (const item of readReplay(input, this.decoder)) {
        if (this.stopped) break;
        this.stats.received++;
        if ('error' in item) {
          this.stats.malformed++;
          this.opts.onBadLine?.(item.error);
          if (this.opts.strict) {
            this.failure = item.error;
            break;
          }
          const n = this.limiter.allow('bad-line');
          if (n >= 0) this.log.warn({ source: this.name, err: item.error.message }, 'bad replay line skipped');
          continue;
        }
        this.stats.decoded++;
        batch.push(item.event);
        if (batch.length >= size) await flush();
      }
      await flush();
    } catch (err) {
      this.failure =
        err instanceof EventDecodeError
          ? err
          : new Error(`cannot read ${this.opts.path}: ${ioErrorText(err)}`, { cause: err });
    } finally {
      this.stats.connected = false;
      this.buffer.close();
    }
  }

  get queued(): number {
    return this.buffer.queued;
  }

  batches(): AsyncIterable<SourceBatch> {
    return this.buffer;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    this.buffer.close();
    await this.done;
  }
}

/** The `replay` source: JSON Lines from a file or standard input. */
export const replaySourcePlugin = defineSourcePlugin({
  type: 'replay',
  description: 'JSON Lines events from a file or standard input (tests, demos, investigations)',
  deliversAlerts: false,
  schema: z.object({ path: z.string().min(1), strict: z.boolean().optional(), name: z.string().optional() }).strict(),
  example: { path: 'events.jsonl' },
  address: { key: 'path' },
  build: (o, c) => new ReplaySource({ ...o, logger: c.logger }, c.table),
});
