import { randomInt } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { codec, grpcMethod, loadProtoRoot } from '../transport/index.js';
import { grpcTarget, passThrough, serverCredentials, unixSocketPath, type TlsFiles } from '../transport/index.js';
import { silentLogger, type Logger } from '../telemetry/index.js';
import { encodeBatch, type SensorEvent } from './batch-encoder.js';
import { deadlineIn, msLeft, type Deadline } from '../lifecycle.js';

export interface SensorServerOptions {
  /** `unix:///run/peregrine/sensor.sock` or `host:port` (`127.0.0.1:0` picks a port). */
  readonly listen: string;
  readonly tls?: TlsFiles;
  /** Events kept for clients that resume after a reconnect. */
  readonly bufferEvents?: number;
  /** Events per batch. */
  readonly maxBatchEvents?: number;
  /** A client this far behind (bytes queued) is disconnected; it resumes from the buffer. */
  readonly maxClientBacklogBytes?: number;
  readonly version?: string;
  readonly backend?: string;
  readonly logger?: Logger;
  /**
   * Told the event types the subscribers need whenever that changes: the union of what each
   * asked for, or undefined when any asked for everything. With no subscriber left the last
   * set stands (a reconnecting agent finds its events still captured).
   */
  readonly onEventTypes?: (types: readonly string[] | undefined) => void;
}

/** Event types taken from one subscriber's request, at most (Falco has a few hundred). */
const MAX_EVENT_TYPES = 1024;

interface StoredBatch {
  readonly firstSeq: number;
  readonly count: number;
  readonly buf: Buffer;
}

export interface SubscribeRequest {
  client_name: string;
  stream_id: string;
  resume_after_seq: string;
  event_types: string[];
}

/** Counters of the sensor server. */
export interface SensorServerStats {
  eventsTotal: number;
  eventsLost: number;
  slowClientsCut: number;
  subscribers: number;
}

const PKG = '/peregrine.sensor.v1.Sensor/';

/**
 * Serves the Peregrine sensor API: batches of events to every subscriber, numbered per
 * stream, with a bounded replay buffer so a client that reconnects gets what it missed.
 * Lifecycle: `start()` binds; `publish()` any time after; `shutdown()` is idempotent.
 */
export class SensorServer {
  /** Random id of this run (48 bits, safe as a JS number). */
  readonly streamId = randomInt(1, 2 ** 47);
  readonly stats: SensorServerStats = { eventsTotal: 0, eventsLost: 0, slowClientsCut: 0, subscribers: 0 };
  private readonly server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  private readonly ring: StoredBatch[] = [];
  private ringEvents = 0;
  private seq = 0;
  private pendingLost = 0;
  private readonly subscribers = new Set<grpc.ServerWritableStream<SubscribeRequest, Buffer>>();
  private readonly log: Logger;
  private stopped = false;
  private health: () => { healthy: boolean; reason: string } = () => ({ healthy: true, reason: '' });

  constructor(private readonly opts: SensorServerOptions) {
    this.log = opts.logger ?? silentLogger();
  }

  /** Binds and starts serving; resolves to the bound address (with the chosen port). */
  async start(): Promise<string> {
    const definition = sensorServiceDefinition();
    this.server.addService(definition, {
      Subscribe: (call: grpc.ServerWritableStream<SubscribeRequest, Buffer>) => this.subscribe(call),
      GetVersion: (_call: unknown, cb: grpc.sendUnaryData<object>) =>
        cb(null, { version: this.opts.version ?? '0.1.0', api_version: 1, backend: this.opts.backend ?? '' }),
      GetHealth: (_call: unknown, cb: grpc.sendUnaryData<object>) => {
        const h = this.stopped ? { healthy: false, reason: 'stopping' } : this.health();
        cb(null, {
          healthy: h.healthy,
          reason: h.reason,
          stream_id: this.streamId,
          last_seq: this.seq,
          events_total: this.stats.eventsTotal,
          events_lost: this.stats.eventsLost,
          subscribers: this.subscribers.size,
        });
      },
    });
    const target = grpcTarget(this.opts.listen);
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(target, serverCredentials(this.opts.tls), (err, p) =>
        err
          ? reject(new Error(`sensor: cannot listen on ${this.opts.listen}: ${err.message}`, { cause: err }))
          : resolve(p),
      );
    });
    if (target.startsWith('unix:')) {
      // beside the socket, which process serves it: the agent never lets a response kill it
      this.pidFile = `${unixSocketPath(this.opts.listen)}.pid`;
      try {
        writeFileSync(this.pidFile, `${process.pid}\n`, { mode: 0o644 });
      } catch {
        this.pidFile = undefined;
      }
      return this.opts.listen;
    }
    return target.replace(/:0$/, `:${port}`);
  }

  private pidFile: string | undefined;

  /** What `GetHealth` reports besides stopping: the capture's state (not capturing is unhealthy). */
  setHealth(health: () => { healthy: boolean; reason: string }): void {
    this.health = health;
  }

  /** Counts events the capture lost; reported to clients in the next batch. */
  recordLost(n: number): void {
    this.pendingLost += n;
    this.stats.eventsLost += n;
    // reported with the next batch, or on its own when no event follows soon
    this.lostTimer ??= setTimeout(() => {
      this.lostTimer = undefined;
      if (this.stopped || this.pendingLost === 0) return;
      const buf = encodeBatch(this.streamId, this.seq + 1, [], this.pendingLost);
      this.pendingLost = 0;
      for (const call of this.subscribers) this.send(call, buf);
    }, 100);
    this.lostTimer.unref();
  }

  private lostTimer: NodeJS.Timeout | undefined;

  /** Numbers, encodes, stores and sends events to every subscriber. */
  publish(events: readonly SensorEvent[]): void {
    if (this.stopped || events.length === 0) return;
    const max = this.opts.maxBatchEvents ?? 1024;
    for (let i = 0; i < events.length; i += max) {
      const chunk = events.slice(i, i + max);
      const buf = encodeBatch(this.streamId, this.seq + 1, chunk, this.pendingLost);
      this.pendingLost = 0;
      const stored = { firstSeq: this.seq + 1, count: chunk.length, buf };
      this.seq += chunk.length;
      this.stats.eventsTotal += chunk.length;
      this.store(stored);
      for (const call of this.subscribers) this.send(call, buf);
    }
  }

  private store(b: StoredBatch): void {
    const cap = this.opts.bufferEvents ?? 131_072;
    this.ring.push(b);
    this.ringEvents += b.count;
    while (this.ringEvents > cap && this.ring.length > 1) this.ringEvents -= this.ring.shift()!.count;
  }

  private send(call: grpc.ServerWritableStream<SubscribeRequest, Buffer>, buf: Buffer): void {
    const limit = this.opts.maxClientBacklogBytes ?? 32 * 1024 * 1024;
    if (call.writableLength > limit) {
      this.subscribers.delete(call);
      this.stats.slowClientsCut++;
      this.log.warn(
        { client: call.request.client_name },
        'sensor: client too slow; disconnecting it (it resumes from the replay buffer)',
      );
      call.destroy(
        Object.assign(new Error('client too slow: reconnect with your resume position'), {
          code: grpc.status.RESOURCE_EXHAUSTED,
        }),
      );
      return;
    }
    call.write(buf);
  }

  private subscribe(call: grpc.ServerWritableStream<SubscribeRequest, Buffer>): void {
    if (this.stopped) {
      call.destroy(Object.assign(new Error('sensor is stopping'), { code: grpc.status.UNAVAILABLE }));
      return;
    }
    // Headers at once: the client knows it is connected before the first event.
    call.sendMetadata(new grpc.Metadata());
    const req = call.request;
    const resume = Number(req.resume_after_seq);
    if (Number(req.stream_id) === this.streamId && resume > 0) {
      const oldest = this.ring.length ? this.ring[0].firstSeq : this.seq + 1;
      const missed = Math.max(0, oldest - (resume + 1));
      if (missed > 0) call.write(encodeBatch(this.streamId, oldest, [], 0, missed));
      for (const b of this.ring) if (b.firstSeq + b.count - 1 > resume) call.write(b.buf);
    }
    this.subscribers.add(call);
    this.stats.subscribers = this.subscribers.size;
    this.wantedTypesChanged();
    const drop = (): void => {
      if (!this.subscribers.delete(call)) return;
      this.stats.subscribers = this.subscribers.size;
      this.wantedTypesChanged();
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
  }

  private lastTypes: string | undefined;

  /** Tells `onEventTypes` what the subscribers need now, when it changed. */
  private wantedTypesChanged(): void {
    if (!this.opts.onEventTypes || this.subscribers.size === 0) return;
    let all = false;
    const union = new Set<string>();
    for (const c of this.subscribers) {
      const types = c.request.event_types ?? [];
      if (types.length === 0) all = true;
      // a client's list is bounded here (event type names are short and few): a huge one costs nothing
      for (const t of types.slice(0, MAX_EVENT_TYPES)) if (t.length <= 64) union.add(t);
    }
    const types = all ? undefined : [...union].sort();
    const key = types ? types.join(',') : '*';
    if (key === this.lastTypes) return;
    this.lastTypes = key;
    this.opts.onEventTypes(types);
  }

  /** Stops accepting, ends every stream, and closes within the deadline. Idempotent. */
  async shutdown(deadline: Deadline = deadlineIn(2_000)): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.lostTimer);
    if (this.pidFile) rmSync(this.pidFile, { force: true });
    for (const call of this.subscribers) call.end();
    this.subscribers.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, msLeft(deadline));
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes every connection at once (tests: a crashed sensor). */
  kill(): void {
    this.stopped = true;
    this.server.forceShutdown();
  }
}

/**
 * The Peregrine sensor API as a grpc-js service definition (`proto/peregrine/sensor/v1/sensor.proto`):
 * `Subscribe` streams pre-encoded `EventBatch` bytes; `GetVersion` and `GetHealth` are unary.
 */
export function sensorServiceDefinition(): grpc.ServiceDefinition {
  const root = loadProtoRoot();
  const empty = codec<object>(root, 'peregrine.sensor.v1.VersionRequest');
  return {
    Subscribe: grpcMethod(
      `${PKG}Subscribe`,
      codec<SubscribeRequest>(root, 'peregrine.sensor.v1.SubscribeRequest'),
      passThrough,
      'server',
    ),
    GetVersion: grpcMethod(`${PKG}GetVersion`, empty, codec<object>(root, 'peregrine.sensor.v1.VersionResponse')),
    GetHealth: grpcMethod(`${PKG}GetHealth`, empty, codec<object>(root, 'peregrine.sensor.v1.HealthResponse')),
  };
}
