import type * as grpc from '@grpc/grpc-js';
import { type FieldKeyTable, type SyscallEvent } from '../event/index.js';
import { TETRAGON_KPROBE_TYPES, TetragonDecoder } from './tetragon-decoder.js';
import type { SourceBatch } from './event-source.js';
import { passThrough } from '../transport/index.js';
import { GrpcStreamSource, type GrpcSourceOptions, type ReadStream } from './grpc-stream-source.js';
import { codec, loadProtoRoot } from '../transport/index.js';

import { DEFAULT_TETRAGON_ADDRESS } from '../defaults.js';
import { GrpcSourceSchema, defineSourcePlugin } from './source-plugin.js';
export { DEFAULT_TETRAGON_ADDRESS };
const MICRO_BATCH = 256;
const MAX_KINDS_TRACKED = 64;

/**
 * Tetragon's `FineGuidanceSensors/GetEvents` as a source: one event per message, mapped to
 * Falco field names, gathered into batches. The request's `allow_list` asks Tetragon only for
 * the event kinds the loaded rules can use. Kinds Peregrine does not map are counted per kind.
 */
export class TetragonSource extends GrpcStreamSource {
  private readonly decoder: TetragonDecoder;
  private readonly root = loadProtoRoot();
  private pending: SyscallEvent[] = [];
  private flushScheduled = false;
  /** Unmapped kinds and how often they arrived (bounded). */
  readonly unknownByKind = new Map<string, number>();

  constructor(opts: GrpcSourceOptions, table: FieldKeyTable) {
    super(opts, 'tetragon');
    this.decoder = new TetragonDecoder(table, this.root);
  }

  /** The allow_list for the rules' event types: exec/exit/kprobe event sets they need. */
  static allowList(eventTypes: readonly string[] | undefined): Array<{ event_set: string[] }> {
    if (!eventTypes) return [];
    const sets = new Set<string>();
    const kprobeTypes = new Set(Object.values(TETRAGON_KPROBE_TYPES));
    for (const t of eventTypes) {
      if (t === 'execve' || t === 'execveat') sets.add('PROCESS_EXEC');
      else if (t === 'procexit') sets.add('PROCESS_EXIT');
      else if (kprobeTypes.has(t)) sets.add('PROCESS_KPROBE');
    }
    return sets.size ? [{ event_set: [...sets] }] : [];
  }

  protected open(client: grpc.Client): ReadStream {
    const req = codec<object>(this.root, 'tetragon.GetEventsRequest');
    return client.makeServerStreamRequest<object, Buffer>(
      '/tetragon.FineGuidanceSensors/GetEvents',
      req.serialize,
      passThrough.deserialize,
      { allow_list: TetragonSource.allowList(this.opts.eventTypes) },
    );
  }

  protected decode(buf: Buffer): SourceBatch | undefined {
    const d = this.decoder.decode(buf);
    this.stats.lost += d.lost;
    if (!d.event) {
      if (d.kind !== 'rate_limit_info') {
        this.stats.unknownKinds++;
        if (this.unknownByKind.has(d.kind) || this.unknownByKind.size < MAX_KINDS_TRACKED)
          this.unknownByKind.set(d.kind, (this.unknownByKind.get(d.kind) ?? 0) + 1);
        const n = this.limiter.allow(`unknown:${d.kind}`);
        if (n >= 0)
          this.log.info(
            { source: this.name, kind: d.kind, suppressed: n },
            'Tetragon event kind not mapped; counted and skipped',
          );
      }
      return undefined;
    }
    // Micro-batching: one message carries one event; gather them for the pipeline.
    this.pending.push(d.event);
    if (this.pending.length >= MICRO_BATCH) return this.take();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        const b = this.take();
        if (b) this.deliver(b);
      });
    }
    return undefined;
  }

  private take(): SourceBatch | undefined {
    if (this.pending.length === 0) return undefined;
    const events = this.pending;
    this.pending = [];
    return { kind: 'events', source: this.name, events };
  }

  protected override onStreamClosed(): void {
    const b = this.take();
    if (b) this.deliver(b);
  }

  /** Tetragon's version string. */
  version(): Promise<{ version: string }> {
    const req = codec<object>(this.root, 'tetragon.GetVersionRequest');
    const res = codec<{ version: string }>(this.root, 'tetragon.GetVersionResponse');
    return this.unary('/tetragon.FineGuidanceSensors/GetVersion', req.serialize, res.deserialize, {});
  }
}

/** The `tetragon` source. */
export const tetragonSourcePlugin = defineSourcePlugin({
  type: 'tetragon',
  description: "Tetragon's FineGuidanceSensors/GetEvents, mapped to Falco fields",
  deliversAlerts: false,
  schema: GrpcSourceSchema,
  example: { address: DEFAULT_TETRAGON_ADDRESS },
  address: { key: 'address', default: DEFAULT_TETRAGON_ADDRESS },
  build: (o, c) => new TetragonSource({ ...o, logger: c.logger, eventTypes: c.eventTypes }, c.table),
});
