import type * as grpc from '@grpc/grpc-js';
import { type FieldKeyTable } from '../event/index.js';
import { SensorBatchDecoder } from './sensor-batch-decoder.js';
import type { SourceBatch } from './event-source.js';
import { passThrough } from '../transport/index.js';
import { GrpcStreamSource, type GrpcSourceOptions, type ReadStream } from './grpc-stream-source.js';
import { codec, loadProtoRoot } from '../transport/index.js';

import { DEFAULT_SENSOR_ADDRESS } from '../defaults.js';
import { GrpcSourceSchema, defineSourcePlugin } from './source-plugin.js';
export { DEFAULT_SENSOR_ADDRESS };

/**
 * Client of the Peregrine sensor API. Resumes from the last sequence number it processed, so
 * a reconnect loses nothing the sensor still buffers; sequence gaps it cannot fill, and what the
 * sensor reports lost, are counted in `stats.lost`.
 */
export class PeregrineSensorSource extends GrpcStreamSource {
  private readonly decoder: SensorBatchDecoder;
  private readonly root = loadProtoRoot();
  private streamId = 0;
  private lastSeq = 0;
  /** Stream changes seen (sensor restarts). */
  streamRestarts = 0;
  private health: { healthy: boolean; reason: string } | undefined;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(opts: GrpcSourceOptions, table: FieldKeyTable) {
    super(opts, 'sensor');
    this.decoder = new SensorBatchDecoder(table);
  }

  private eventTypes: readonly string[] | undefined = this.opts.eventTypes;

  /**
   * New event types: the stream is opened again with them, resuming after the last event
   * processed (the sensor replays from its buffer, so nothing is lost in between).
   */
  setEventTypes(types: readonly string[] | undefined): void {
    const key = (t: readonly string[] | undefined): string => (t && t.length ? [...t].sort().join(',') : '*');
    if (key(types) === key(this.eventTypes)) return;
    this.eventTypes = types;
    this.log.info({ eventTypes: types?.length ?? 'all' }, 'sensor source: event types changed; resubscribing');
    // a stream open or opening with the old types is restarted (none open: the next one uses these)
    this.reconnect();
  }

  protected open(client: grpc.Client): ReadStream {
    const req = codec<object>(this.root, 'peregrine.sensor.v1.SubscribeRequest');
    const msg = {
      client_name: 'peregrine-agent',
      stream_id: this.streamId,
      resume_after_seq: this.lastSeq,
      event_types: [...(this.eventTypes ?? [])],
    };
    return client.makeServerStreamRequest<object, Buffer>(
      '/peregrine.sensor.v1.Sensor/Subscribe',
      req.serialize,
      passThrough.deserialize,
      msg,
    );
  }

  protected decode(buf: Buffer): SourceBatch | undefined {
    const batch = this.decoder.decode(buf);
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
    return events.length ? { kind: 'events', source: this.name, events } : undefined;
  }

  /** The sensor's own health (`GetHealth`, asked every 2 s while connected). */
  get upstream(): { healthy: boolean; reason: string } | undefined {
    return this.stats.connected ? this.health : undefined;
  }

  protected override onStreamOpen(): void {
    if (this.healthTimer) return;
    const poll = (): void => {
      this.getHealth().then(
        (h) => (this.health = { healthy: h.healthy, reason: h.reason }),
        () => (this.health = undefined),
      );
    };
    poll();
    this.healthTimer = setInterval(poll, this.opts.healthPollMs ?? 2_000);
    this.healthTimer.unref();
  }

  protected override onStreamClosed(): void {
    clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    this.health = undefined;
  }

  /** The sensor's health report. */
  getHealth(): Promise<{ healthy: boolean; reason: string }> {
    const req = codec<object>(this.root, 'peregrine.sensor.v1.HealthRequest');
    const res = codec<{ healthy: boolean; reason: string }>(this.root, 'peregrine.sensor.v1.HealthResponse');
    return this.unary('/peregrine.sensor.v1.Sensor/GetHealth', req.serialize, res.deserialize, {}, 2_000);
  }

  /** Version of the connected sensor. */
  version(): Promise<{ version: string; api_version: number; backend: string }> {
    const req = codec<object>(this.root, 'peregrine.sensor.v1.VersionRequest');
    const res = codec<{ version: string; api_version: number; backend: string }>(
      this.root,
      'peregrine.sensor.v1.VersionResponse',
    );
    return this.unary('/peregrine.sensor.v1.Sensor/GetVersion', req.serialize, res.deserialize, {});
  }
}

/** The `sensor` source: Peregrine's sensor API (the bundled eBPF sensor). */
export const sensorSourcePlugin = defineSourcePlugin({
  type: 'sensor',
  description: "Peregrine's bundled eBPF sensor (batched events over gRPC)",
  deliversAlerts: false,
  schema: GrpcSourceSchema,
  example: { address: DEFAULT_SENSOR_ADDRESS },
  address: { key: 'address', default: DEFAULT_SENSOR_ADDRESS },
  build: (o, c) => new PeregrineSensorSource({ ...o, logger: c.logger, eventTypes: c.eventTypes }, c.table),
});
