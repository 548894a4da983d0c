import * as grpc from '@grpc/grpc-js';
import { SensorBatchDecoder, type FieldKeyTable } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { Backoff } from './backoff.js';
import { emptyStats, type EventSource, type SourceBatch, type SourceStats } from './event-source.js';
import { clientChannelOptions, clientCredentials, grpcTarget, passThrough, type TlsFiles } from './grpc-transport.js';
import { codec, loadProtoRoot } from './proto-root.js';
import { SourceBuffer } from './source-buffer.js';

/** Options shared by Peregrine's gRPC client sources. */
export interface GrpcSourceOptions {
  readonly address: string;
  readonly tls?: TlsFiles;
  /** Events buffered between the source and the pipeline. */
  readonly bufferEvents?: number;
  readonly name?: string;
  readonly logger?: Logger;
  /** Event types the loaded rules use (sent as a hint/filter to the server). */
  readonly eventTypes?: readonly string[];
}

/** Default address of the bundled sensor. */
export const DEFAULT_SENSOR_ADDRESS = 'unix:///run/peregrine/sensor.sock';

/**
 * Client of the Peregrine sensor API. Keeps the subscription alive forever: reconnects with
 * exponential backoff and jitter and resumes from the last sequence number it processed, so a
 * reconnect loses nothing the sensor still buffers; gaps it cannot fill are counted as lost.
 * A full buffer pauses the stream (gRPC flow control pushes back to the sensor).
 */
export class PeregrineSensorSource implements EventSource {
  readonly name: string;
  readonly stats: SourceStats = emptyStats();
  private readonly buffer: SourceBuffer;
  private readonly decoder: SensorBatchDecoder;
  private readonly backoff = new Backoff();
  private readonly limiter = new RateLimiter();
  private readonly log: Logger;
  private client: grpc.Client | undefined;
  private call: grpc.ClientReadableStream<Buffer> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private streamId = 0;
  private lastSeq = 0;
  /** Stream changes seen (sensor restarts). */
  streamRestarts = 0;

  constructor(
    private readonly opts: GrpcSourceOptions,
    table: FieldKeyTable,
  ) {
    this.name = opts.name ?? 'sensor';
    this.buffer = new SourceBuffer(opts.bufferEvents ?? 65_536);
    this.decoder = new SensorBatchDecoder(table);
    this.log = opts.logger ?? silentLogger();
  }

  async start(): Promise<void> {
    const root = loadProtoRoot();
    this.requestCodec = codec<object>(root, 'peregrine.sensor.v1.SubscribeRequest');
    this.client = new grpc.Client(grpcTarget(this.opts.address), clientCredentials(this.opts.tls), clientChannelOptions(this.opts.tls));
    this.subscribe();
  }

  private requestCodec: { serialize: (m: object) => Buffer } | undefined;

  batches(): AsyncIterable<SourceBatch> {
    return this.buffer;
  }

  private subscribe(): void {
    if (this.stopped || !this.client) return;
    const req = { client_name: 'peregrine-agent', stream_id: this.streamId, resume_after_seq: this.lastSeq, event_types: [...(this.opts.eventTypes ?? [])] };
    const call = this.client.makeServerStreamRequest<object, Buffer>('/peregrine.sensor.v1.Sensor/Subscribe', this.requestCodec!.serialize, passThrough.deserialize, req);
    this.call = call;
    let gotData = false;
    call.on('data', (buf: Buffer) => {
      if (!gotData) {
        gotData = true;
        this.onConnected();
      }
      this.onMessage(buf, call);
    });
    call.on('metadata', () => {
      if (!gotData) {
        gotData = true;
        this.onConnected();
      }
    });
    call.on('error', (err: grpc.ServiceError) => this.onDisconnected(call, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
    call.on('end', () => this.onDisconnected(call, 'stream ended by the sensor'));
  }

  private onConnected(): void {
    this.stats.connected = true;
    this.stats.connects++;
    this.backoff.reset();
    this.log.info({ source: this.name, address: this.opts.address }, 'source connected');
  }

  private onDisconnected(call: grpc.ClientReadableStream<Buffer>, why: string): void {
    if (call !== this.call) return;
    this.call = undefined;
    this.stats.connected = false;
    if (this.stopped) return;
    const delay = this.backoff.next();
    const suppressed = this.limiter.allow('disconnect');
    if (suppressed >= 0) this.log.warn({ source: this.name, address: this.opts.address, why, retryInMs: delay, suppressed }, 'source disconnected; reconnecting');
    this.timer = setTimeout(() => this.subscribe(), delay);
  }

  private onMessage(buf: Buffer, call: grpc.ClientReadableStream<Buffer>): void {
    this.stats.received++;
    let batch;
    try {
      batch = this.decoder.decode(buf);
    } catch (err) {
      this.stats.malformed++;
      const n = this.limiter.allow('malformed');
      if (n >= 0) this.log.warn({ source: this.name, err: (err as Error).message, suppressed: n }, 'malformed sensor batch skipped');
      return;
    }
    this.stats.lost += batch.lost + batch.missed;
    let events = batch.events;
    if (batch.streamId !== this.streamId) {
      if (this.streamId !== 0) this.streamRestarts++;
      this.streamId = batch.streamId;
      this.lastSeq = batch.firstSeq - 1;
    } else if (batch.missed > 0) {
      // the sensor says what it could not replay: those seqs are already counted as lost
      this.lastSeq = Math.max(this.lastSeq, batch.firstSeq - 1);
    } else if (events.length && batch.firstSeq > this.lastSeq + 1) {
      this.stats.lost += batch.firstSeq - this.lastSeq - 1;
    } else if (events.length && batch.firstSeq <= this.lastSeq) {
      events = events.slice(this.lastSeq - batch.firstSeq + 1); // replayed events already processed
    }
    if (batch.events.length) this.lastSeq = Math.max(this.lastSeq, batch.firstSeq + batch.events.length - 1);
    if (events.length === 0) return;
    const out: SourceBatch = { kind: 'events', source: this.name, events };
    this.stats.decoded += events.length;
    if (!this.buffer.offer(out)) {
      // Backpressure: hold this batch, pause the stream, resume when the pipeline drains.
      call.pause();
      this.buffer.onDrain(() => {
        if (!this.buffer.offer(out)) {
          this.stats.dropped += events.length;
          this.stats.decoded -= events.length;
        }
        call.resume();
      });
    }
  }

  /** Version of the connected sensor (for logs and /readyz). */
  async version(): Promise<{ version: string; api_version: number; backend: string }> {
    const root = loadProtoRoot();
    const req = codec<object>(root, 'peregrine.sensor.v1.VersionRequest');
    const res = codec<{ version: string; api_version: number; backend: string }>(root, 'peregrine.sensor.v1.VersionResponse');
    return new Promise((resolve, reject) => {
      this.client!.makeUnaryRequest('/peregrine.sensor.v1.Sensor/GetVersion', req.serialize, res.deserialize, {}, { deadline: Date.now() + 5_000 }, (err, v) => (err || !v ? reject(err ?? new Error('no response')) : resolve(v)));
    });
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.client?.close();
    this.stats.connected = false;
    this.buffer.close();
  }
}
