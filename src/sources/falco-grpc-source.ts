import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { Alert, AlertFieldValue, Priority } from '../event/index.js';
import type { SourceBatch } from './event-source.js';
import { limitAlert } from './falco-alert.js';
import { passThrough } from '../transport/index.js';
import { GrpcStreamSource, type GrpcSourceOptions, type ReadStream } from './grpc-stream-source.js';
import { codec, loadProtoRoot } from '../transport/index.js';

import { DEFAULT_FALCO_GRPC_ADDRESS } from '../defaults.js';
import { GrpcSourceSchema, defineSourcePlugin } from './source-plugin.js';
export { DEFAULT_FALCO_GRPC_ADDRESS };
/** How often an empty request is sent to keep `sub` flowing. */
export const FALCO_SUB_KEEPALIVE_MS = 500;

const PRIORITY_NAMES: readonly Priority[] = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
];
const SOURCES = ['syscall', 'k8s_audit', 'internal', 'plugin'];

/**
 * Falco's gRPC outputs API (`falco.outputs.service/sub`) as an alert source. `sub` only sends
 * more alerts after the client's next (empty) request, so one is sent at once and then every
 * {@link FALCO_SUB_KEEPALIVE_MS}. Falco's version is asked at each connect.
 */
export class FalcoGrpcSource extends GrpcStreamSource {
  private readonly root = loadProtoRoot();
  private readonly response: protobuf.Type;
  private keepalive: NodeJS.Timeout | undefined;
  /** Version reported by Falco at the last connect. */
  falcoVersion: string | undefined;

  constructor(opts: GrpcSourceOptions) {
    super(opts, 'falco-grpc');
    this.response = this.root.lookupType('falco.outputs.response');
  }

  protected open(client: grpc.Client): ReadStream {
    const req = codec<object>(this.root, 'falco.outputs.request');
    return client.makeBidiStreamRequest<object, Buffer>(
      '/falco.outputs.service/sub',
      req.serialize,
      passThrough.deserialize,
    );
  }

  protected override onStreamOpen(call: ReadStream): void {
    const duplex = call as grpc.ClientDuplexStream<object, Buffer>;
    duplex.write({});
    clearInterval(this.keepalive);
    this.keepalive = setInterval(() => duplex.write({}), FALCO_SUB_KEEPALIVE_MS);
    this.keepalive.unref();
    this.version().then(
      (v) => {
        this.falcoVersion = v.version;
        this.log.info({ source: this.name, falcoVersion: v.version }, 'connected to Falco');
      },
      () => undefined,
    );
  }

  protected override onStreamClosed(): void {
    clearInterval(this.keepalive);
  }

  protected decode(buf: Buffer): SourceBatch {
    const m = this.response.toObject(this.response.decode(buf), { longs: Number, enums: Number, defaults: true }) as {
      time?: { seconds: number; nanos: number };
      priority: number;
      source_deprecated: number;
      rule: string;
      output: string;
      output_fields: Record<string, string>;
      hostname: string;
      tags: string[];
      source: string;
    };
    if (!m.rule) throw new Error('Falco response without a rule');
    const secs = m.time?.seconds ?? Math.floor(Date.now() / 1000);
    const nanos = m.time?.nanos ?? 0;
    const time = `${new Date(secs * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
    const fields: Record<string, AlertFieldValue> = {};
    for (const [k, v] of Object.entries(m.output_fields ?? {})) fields[k] = v === '<NA>' ? null : v;
    const alert: Alert = {
      time,
      rule: m.rule,
      priority: PRIORITY_NAMES[m.priority] ?? 'Informational',
      source: m.source || SOURCES[m.source_deprecated] || 'syscall',
      tags: m.tags ?? [],
      hostname: m.hostname ?? '',
      output: m.output ?? '',
      output_fields: fields,
    };
    const limited = limitAlert(alert);
    if (limited !== alert) this.stats.truncated++;
    return { kind: 'alerts', source: this.name, alerts: [limited] };
  }

  /** Falco's version (`falco.version.service/version`). */
  version(): Promise<{ version: string; engine_version: string }> {
    const req = codec<object>(this.root, 'falco.version.request');
    const res = codec<{ version: string; engine_version: string }>(this.root, 'falco.version.response');
    return this.unary('/falco.version.service/version', req.serialize, res.deserialize, {});
  }
}

/** The `falco-grpc` source. */
export const falcoGrpcSourcePlugin = defineSourcePlugin({
  type: 'falco-grpc',
  description: "Falco's gRPC outputs API (falco.outputs.service/sub, Falco <= 0.43)",
  deliversAlerts: true,
  schema: GrpcSourceSchema,
  example: { address: DEFAULT_FALCO_GRPC_ADDRESS },
  address: { key: 'address', default: DEFAULT_FALCO_GRPC_ADDRESS },
  build: (o, c) => new FalcoGrpcSource({ ...o, logger: c.logger }),
});
