import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { FieldKeyTable } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';
import type { EventSource } from './event-source.js';

/** What a source plug-in gets from its surroundings. */
export interface SourceContext {
  readonly table: FieldKeyTable;
  readonly logger?: Logger;
  /** Event types the loaded rules use. */
  readonly eventTypes?: readonly string[];
}

/**
 * What every source plug-in says about itself. One file per source exports its plug-in; the
 * registry lists them. Adding a source: its file and one line in `source-registry.ts`.
 */
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
  build(options: unknown, ctx: SourceContext): EventSource;
}

/** Defines a plug-in whose `build` gets options its schema accepted. */
export function defineSourcePlugin<O extends Record<string, unknown>>(p: {
  type: string;
  description: string;
  schema: z.ZodType<O>;
  example: O;
  address: SourcePlugin['address'];
  deliversAlerts: boolean;
  build: (o: O, c: SourceContext) => EventSource;
}): SourcePlugin {
  return { ...p, build: (raw, ctx) => p.build(p.schema.parse(raw), ctx) };
}

/** A file named in the configuration must exist when the configuration is checked. */
const existingFile = z
  .string()
  .min(1)
  .refine((f) => existsSync(f), { message: 'no such file' });

/**
 * TLS from files (re-read when they change): a certificate needs its key and the reverse; every
 * file must exist. Problems are config errors at `tls.cert`, `tls.key`, `tls.ca`.
 */
export const TlsSchema = z
  .object({
    cert: existingFile.optional(),
    key: existingFile.optional(),
    ca: existingFile.optional(),
    serverName: z.string().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.cert && !t.key)
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'a certificate (cert) needs its private key (key)' });
    if (t.key && !t.cert)
      ctx.addIssue({ code: 'custom', path: ['cert'], message: 'a private key (key) needs its certificate (cert)' });
  });

/** Options of the gRPC client sources (sensor, tetragon, falco-grpc). */
export const GrpcSourceSchema = z
  .object({
    address: z.string().min(1),
    tls: TlsSchema.optional(),
    bufferEvents: z.number().int().positive().optional(),
    name: z.string().optional(),
    overflow: z.enum(['block', 'drop-oldest', 'drop-newest']).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.tls?.cert && !o.tls.ca)
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'ca'],
        message: "a client certificate (mutual TLS) needs the server's ca file too",
      });
  });

/** Whether a listen address only takes connections from this machine (loopback or a unix socket). */
export function isLoopbackListen(listen: string): boolean {
  if (listen.startsWith('unix://')) return true;
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
