import * as grpc from '@grpc/grpc-js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { Backoff } from '../transport/index.js';
import { emptyStats, type EventSource, type SourceBatch, type SourceStats } from './event-source.js';
import { clientChannelOptions, clientCredentials, grpcTarget, type TlsFiles } from '../transport/index.js';
import { SourceBuffer, type OverflowPolicy } from './source-buffer.js';
import { errorMessage } from '../event/index.js';

/** Options shared by Peregrine's gRPC client sources. */
export interface GrpcSourceOptions {
  readonly address: string;
  readonly tls?: TlsFiles;
  /** Events buffered between the source and the pipeline. */
  readonly bufferEvents?: number;
  readonly name?: string;
  readonly logger?: Logger;
  /** Event types the loaded rules use (sent to the server as a filter where it supports one). */
  readonly eventTypes?: readonly string[];
  /** When the buffer is full: pause the stream (default; gRPC flow control reaches the server) or drop. */
  readonly overflow?: OverflowPolicy;
  /** Reconnect backoff: first delay and cap, in ms (defaults 200 and 30000). */
  readonly reconnect?: { readonly baseMs?: number; readonly maxMs?: number };
  /** How often a source that can asks its server for its health (ms; default 2000). */
  readonly healthPollMs?: number;
}

/** A stream the base class reads: server-streaming or bidirectional. */
export type ReadStream = grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<unknown, Buffer>;

/**
 * The behaviour every gRPC client source shares, written once: keep one stream open forever
 * (reconnect with exponential backoff and jitter, logged at a bounded rate), count every
 * message, skip malformed ones, and push back when the pipeline is slow (pause the stream:
 * gRPC flow control reaches the server). Subclasses open the stream and decode messages.
 */
export abstract class GrpcStreamSource implements EventSource {
  readonly name: string;
  readonly stats: SourceStats = emptyStats();
  protected readonly buffer: SourceBuffer;
  protected readonly log: Logger;
  protected readonly limiter = new RateLimiter();
  protected client: grpc.Client | undefined;
  private readonly backoff: Backoff;
  private call: ReadStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    protected readonly opts: GrpcSourceOptions,
    defaultName: string,
  ) {
    this.name = opts.name ?? defaultName;
    this.backoff = new Backoff(opts.reconnect?.baseMs ?? 200, opts.reconnect?.maxMs ?? 30_000);
    this.buffer = new SourceBuffer(opts.bufferEvents ?? 65_536);
    this.log = opts.logger ?? silentLogger();
  }

  /** Opens the stream on `client` (a new call each time the source reconnects). */
  protected abstract open(client: grpc.Client): ReadStream;
  /** Decodes one message into a batch (or nothing); throws on a malformed message. */
  protected abstract decode(buf: Buffer): SourceBatch | undefined;
  /** Called after (re)connecting, before messages flow. */
  protected onStreamOpen(_call: ReadStream): void {}
  /** Called when the stream is gone (before the reconnect is scheduled). */
  protected onStreamClosed(): void {}

  async start(): Promise<void> {
    this.client = new grpc.Client(
      grpcTarget(this.opts.address),
      clientCredentials(this.opts.tls),
      clientChannelOptions(this.opts.tls),
    );
    this.connect();
  }

  get queued(): number {
    return this.buffer.queued;
  }

  batches(): AsyncIterable<SourceBatch> {
    return this.buffer;
  }

  private connect(): void {
    if (this.stopped || !this.client) return;
    const call = this.open(this.client);
    this.call = call;
    let up = false;
    const connected = (): void => {
      if (up) return;
      up = true;
      this.stats.connected = true;
      this.stats.connects++;
      this.backoff.reset();
      this.log.info({ source: this.name, address: this.opts.address }, 'source connected');
    };
    call.on('metadata', connected);
    call.on('data', (buf: Buffer) => {
      connected();
      this.onMessage(buf, call);
    });
    call.on('error', (err: grpc.ServiceError) =>
      this.disconnected(call, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`),
    );
    call.on('end', () => this.disconnected(call, 'stream ended by the server'));
    this.onStreamOpen(call);
  }

  private disconnected(call: ReadStream, why: string): void {
    if (call !== this.call) return;
    this.call = undefined;
    this.stats.connected = false;
    this.onStreamClosed();
    if (this.stopped) return;
    const delay = this.backoff.next();
    const suppressed = this.limiter.allow('disconnect');
    if (suppressed >= 0)
      this.log.warn(
        { source: this.name, address: this.opts.address, why, retryInMs: delay, suppressed },
        'source disconnected; reconnecting',
      );
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Cuts the current stream (it reconnects); for tests and for certificate changes. */
  reconnect(): void {
    this.call?.cancel();
  }

  private onMessage(buf: Buffer, call: ReadStream): void {
    this.stats.received++;
    let batch: SourceBatch | undefined;
    try {
      batch = this.decode(buf);
    } catch (err) {
      this.stats.malformed++;
      const n = this.limiter.allow('malformed');
      if (n >= 0)
        this.log.warn({ source: this.name, err: errorMessage(err), suppressed: n }, 'malformed message skipped');
      return;
    }
    if (batch) this.deliver(batch, call);
  }

  /** Offers a batch to the buffer; when full, holds it and pauses the stream until drained. */
  protected deliver(batch: SourceBatch, call: ReadStream | undefined = this.call): void {
    const n = batch.kind === 'events' ? batch.events.length : batch.alerts.length;
    if (n === 0) return;
    this.stats.decoded += n;
    const policy = this.opts.overflow ?? 'block';
    if (policy !== 'block') {
      const dropped = this.buffer.push(batch, policy);
      if (dropped) {
        this.stats.dropped += dropped;
        const k = this.limiter.allow('overflow');
        if (k >= 0)
          this.log.warn({ source: this.name, dropped, policy, suppressed: k }, 'source buffer full: events dropped');
      }
      return;
    }
    if (this.buffer.offer(batch)) return;
    call?.pause();
    this.buffer.onDrain(() => {
      if (!this.buffer.offer(batch)) {
        this.stats.dropped += n;
        this.stats.decoded -= n;
      }
      call?.resume();
    });
  }

  /** A unary call on this source's channel (version/health RPCs). */
  protected unary<Req, Res>(
    path: string,
    serialize: (r: Req) => Buffer,
    deserialize: (b: Buffer) => Res,
    req: Req,
    timeoutMs = 5_000,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      if (!this.client) return reject(new Error(`${this.name}: not started`));
      this.client.makeUnaryRequest(path, serialize, deserialize, req, { deadline: Date.now() + timeoutMs }, (err, v) =>
        err || v === undefined ? reject(err ?? new Error('no response')) : resolve(v),
      );
    });
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.onStreamClosed();
    this.client?.close();
    this.stats.connected = false;
    this.buffer.close();
  }
}
