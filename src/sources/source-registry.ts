import { z } from 'zod';
import type { FieldKeyTable } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';
import type { EventSource } from './event-source.js';
import { FalcoGrpcSource, DEFAULT_FALCO_GRPC_ADDRESS } from './falco-grpc-source.js';
import { DEFAULT_FALCO_HTTP_LISTEN, FalcoHttpSource } from './falco-http-source.js';
import { DEFAULT_SENSOR_ADDRESS, PeregrineSensorSource } from './peregrine-sensor-source.js';
import { ReplaySource } from './replay-source.js';
import { DEFAULT_TETRAGON_ADDRESS, TetragonSource } from './tetragon-source.js';

const Tls = z.object({ cert: z.string().optional(), key: z.string().optional(), ca: z.string().optional(), serverName: z.string().optional() }).strict();
const Grpc = z.object({
  address: z.string().min(1), tls: Tls.optional(), bufferEvents: z.number().int().positive().optional(), name: z.string().optional(),
  overflow: z.enum(['block', 'drop-oldest', 'drop-newest']).optional(),
}).strict();

/** What a source needs from its surroundings. */
export interface SourceContext {
  readonly table: FieldKeyTable;
  readonly logger?: Logger;
  /** Event types the loaded rules use. */
  readonly eventTypes?: readonly string[];
}

/** What every source plug-in says about itself; adding a source adds one entry here. */
export interface SourcePlugin {
  readonly type: string;
  readonly description: string;
  /** Config schema (validated at start-up, every error with its path). */
  readonly schema: z.ZodType;
  /** An example config, for documentation only (never used as a default). */
  readonly example: Readonly<Record<string, unknown>>;
  /** The option a bare address on the command line sets (`TYPE:ADDRESS`), and its default. */
  readonly address: { readonly key: string; readonly default?: string };
  /** Delivers alerts (Falco) rather than events. */
  readonly deliversAlerts: boolean;
  /** Validates `options` against the schema (throws a ZodError listing every problem) and builds the source. */
  create(options: unknown, ctx: SourceContext): EventSource;
}

function plugin<O extends Record<string, unknown>>(p: {
  type: string; description: string; schema: z.ZodType<O>; example: O; address: SourcePlugin['address']; deliversAlerts: boolean; create: (o: O, c: SourceContext) => EventSource;
}): SourcePlugin {
  return { ...p, create: (raw, ctx) => p.create(p.schema.parse(raw), ctx) };
}

/** Every source type, listed once. */
export const SOURCE_PLUGINS: readonly SourcePlugin[] = [
  plugin({
    type: 'sensor', description: "Peregrine's bundled eBPF sensor (batched events over gRPC)", deliversAlerts: false,
    schema: Grpc, example: { address: DEFAULT_SENSOR_ADDRESS }, address: { key: 'address', default: DEFAULT_SENSOR_ADDRESS },
    create: (o, c) => new PeregrineSensorSource({ ...o, logger: c.logger, eventTypes: c.eventTypes }, c.table),
  }),
  plugin({
    type: 'tetragon', description: "Tetragon's FineGuidanceSensors/GetEvents, mapped to Falco fields", deliversAlerts: false,
    schema: Grpc, example: { address: DEFAULT_TETRAGON_ADDRESS }, address: { key: 'address', default: DEFAULT_TETRAGON_ADDRESS },
    create: (o, c) => new TetragonSource({ ...o, logger: c.logger, eventTypes: c.eventTypes }, c.table),
  }),
  plugin({
    type: 'falco-grpc', description: "Falco's gRPC outputs API (falco.outputs.service/sub, Falco <= 0.43)", deliversAlerts: true,
    schema: Grpc, example: { address: DEFAULT_FALCO_GRPC_ADDRESS }, address: { key: 'address', default: DEFAULT_FALCO_GRPC_ADDRESS },
    create: (o, c) => new FalcoGrpcSource({ ...o, logger: c.logger }),
  }),
  plugin({
    type: 'falco-http', description: "Falco's JSON alerts by HTTP POST (Falco >= 0.44 http_output, Falcosidekick input)", deliversAlerts: true,
    schema: z.object({
      listen: z.string().min(1).optional(), path: z.string().startsWith('/').optional(), tls: Tls.optional(),
      secret: z.object({ header: z.string().min(1), value: z.string().min(1) }).strict().optional(),
      bufferAlerts: z.number().int().positive().optional(), maxBodyBytes: z.number().int().positive().max(64 * 1024 * 1024).optional(), name: z.string().optional(),
      rateLimit: z.object({ alertsPerSecond: z.number().positive(), burst: z.number().int().positive() }).strict().optional(),
      insecure: z.boolean().optional(),
    }).strict().superRefine((o, ctx) => {
      const listen = o.listen ?? DEFAULT_FALCO_HTTP_LISTEN;
      if (!isLoopbackListen(listen) && !o.tls?.cert && !o.secret && !o.insecure) {
        ctx.addIssue({ code: 'custom', path: ['listen'], message: `${listen} is reachable from other machines, but without tls or a secret anyone there can inject alerts: add tls (cert, key; ca for mutual TLS) or a secret, listen on 127.0.0.1, or set insecure: true on a trusted network` });
      }
    }),
    example: { listen: '0.0.0.0:2801', path: '/', secret: { header: 'X-Peregrine-Token', value: 'a long random string' } },
    address: { key: 'listen', default: DEFAULT_FALCO_HTTP_LISTEN },
    create: (o, c) => new FalcoHttpSource({ ...o, logger: c.logger }),
  }),
  plugin({
    type: 'replay', description: 'JSON Lines events from a file or standard input (tests, demos, investigations)', deliversAlerts: false,
    schema: z.object({ path: z.string().min(1), strict: z.boolean().optional(), name: z.string().optional() }).strict(),
    example: { path: 'events.jsonl' }, address: { key: 'path' },
    create: (o, c) => new ReplaySource({ ...o, logger: c.logger }, c.table),
  }),
];

/** Whether a listen address only takes connections from this machine (loopback or a unix socket). */
export function isLoopbackListen(listen: string): boolean {
  if (listen.startsWith('unix://')) return true;
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The plug-in for a type, or undefined. */
export function sourcePlugin(type: string): SourcePlugin | undefined {
  return SOURCE_PLUGINS.find((p) => p.type === type);
}

/**
 * Parses a source given on the command line: `TYPE:ADDRESS` (`sensor:unix:///run/peregrine/sensor.sock`,
 * `tetragon:localhost:54321`, `falco-grpc:unix:///run/falco/falco.sock`, `falco-http:127.0.0.1:2801`,
 * `replay:events.jsonl`); a bare type takes the plug-in's default address. Throws with the list
 * of types when the type is unknown.
 */
export function parseSourceSpec(spec: string): { type: string; options: Record<string, unknown> } {
  const i = spec.indexOf(':');
  const type = i < 0 ? spec : spec.slice(0, i);
  const rest = i < 0 ? '' : spec.slice(i + 1);
  const p = sourcePlugin(type);
  if (!p) throw new Error(`unknown source type '${type}'; use one of ${SOURCE_PLUGINS.map((x) => x.type).join(', ')}`);
  const value = rest || p.address.default;
  return { type, options: value === undefined ? {} : { [p.address.key]: value } };
}
