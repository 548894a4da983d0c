import { timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { errorMessage, type Alert } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { emptyStats, type EventSource, type SourceBatch, type SourceStats } from './event-source.js';
import { AlertFormatError, alertFromFalcoJson, limitAlert } from './falco-alert.js';
import { CERT_REFRESH_MS, type TlsFiles } from '../transport/index.js';
import { SourceBuffer } from './source-buffer.js';

import { DEFAULT_FALCO_HTTP_LISTEN } from '../defaults.js';
import { z } from 'zod';
import { TlsSchema, defineSourcePlugin, isLoopbackListen } from './source-plugin.js';
import { deadlineIn, msLeft, type Deadline } from '../lifecycle.js';
export { DEFAULT_FALCO_HTTP_LISTEN };

export interface FalcoHttpSourceOptions {
  /**
   * `host:port` (port 0 picks one) or `unix:///path.sock`; default {@link DEFAULT_FALCO_HTTP_LISTEN}.
   * A non-loopback address needs TLS or a secret, or `insecure` (checked by the plug-in's schema).
   */
  readonly listen?: string;
  /** Path alerts are POSTed to. */
  readonly path?: string;
  /** TLS: `cert`+`key`; with `ca`, clients must present a certificate it signed (mTLS). */
  readonly tls?: TlsFiles;
  /** A shared secret: requests must carry `header: value`. */
  readonly secret?: { readonly header: string; readonly value: string };
  readonly bufferAlerts?: number;
  readonly maxBodyBytes?: number;
  /**
   * Alerts each peer (remote address) may send: a sustained rate per second and a burst
   * (defaults 500 and 5000). Beyond it: 429 with Retry-After, counted as `rateLimited`.
   */
  readonly rateLimit?: { readonly alertsPerSecond: number; readonly burst: number };
  /** Accepted a non-loopback listener without TLS or secret (logged as a warning at start). */
  readonly insecure?: boolean;
  readonly name?: string;
  readonly logger?: Logger;
}

/**
 * Receives Falco's JSON alerts by HTTP POST (Falco ≥ 0.44 `http_output`, or anything that
 * speaks Falcosidekick's input). One alert per request, or a JSON array of alerts.
 * Replies: 200 accepted; 400 malformed (counted); 401 bad secret; 405/404 wrong method/path;
 * 413 too large; 503 with Retry-After when the pipeline's buffer is full (counted as dropped).
 */
export class FalcoHttpSource implements EventSource {
  readonly name: string;
  readonly stats: SourceStats = emptyStats();
  private readonly buffer: SourceBuffer;
  private readonly log: Logger;
  private readonly limiter = new RateLimiter();
  private readonly peers: PeerBuckets;
  private server: http.Server | https.Server | undefined;
  private watched: string[] = [];
  private stopped = false;

  constructor(private readonly opts: FalcoHttpSourceOptions) {
    this.name = opts.name ?? 'falco-http';
    this.buffer = new SourceBuffer(opts.bufferAlerts ?? 10_000);
    this.log = opts.logger ?? silentLogger();
    this.peers = new PeerBuckets(opts.rateLimit?.alertsPerSecond ?? 500, opts.rateLimit?.burst ?? 5_000);
  }

  /** The bound address (`127.0.0.1:PORT` or the unix path), once started. */
  get address(): string {
    const a = this.server?.address();
    if (!a) return '';
    return typeof a === 'string' ? a : `${a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    // A request can fail on its own (the peer resets mid-body, a socket error): it is answered
    // if still possible, counted and logged at a bounded rate; it never reaches the process.
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => this.requestFailed(req, res, err));
    };
    const tls = this.opts.tls;
    if (tls) {
      if (!tls.cert || !tls.key) throw new Error(`${this.name}: tls needs cert and key files`);
      this.server = https.createServer(
        { ...this.secureContext(), requestCert: !!tls.ca, rejectUnauthorized: !!tls.ca },
        handler,
      );
      this.watched = [tls.cert, tls.key, ...(tls.ca ? [tls.ca] : [])];
      for (const f of this.watched) watchFile(f, { interval: CERT_REFRESH_MS }, () => this.reloadCerts());
    } else this.server = http.createServer(handler);
    // a sender that trickles its headers or body is cut off (slowloris)
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 65_000;
    const l = this.opts.listen ?? DEFAULT_FALCO_HTTP_LISTEN;
    if (this.opts.insecure)
      this.log.warn(
        { source: this.name, listen: l },
        'falco-http: INSECURE: accepting alerts without TLS or a shared secret; anyone who reaches this address can inject alerts',
      );
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (err) =>
        reject(new Error(`${this.name}: cannot listen on ${l}: ${err.message}`, { cause: err })),
      );
      if (l.startsWith('unix://')) this.server!.listen(l.slice('unix://'.length), resolve);
      else {
        const i = l.lastIndexOf(':');
        this.server!.listen(Number(l.slice(i + 1)), l.slice(0, i).replace(/^\[|\]$/g, ''), resolve);
      }
    });
    this.stats.connected = true;
    this.stats.connects++;
  }

  private secureContext(): { cert: Buffer; key: Buffer; ca?: Buffer } {
    const t = this.opts.tls!;
    return { cert: readFileSync(t.cert!), key: readFileSync(t.key!), ...(t.ca ? { ca: readFileSync(t.ca) } : {}) };
  }

  private reloadCerts(): void {
    try {
      (this.server as https.Server).setSecureContext(this.secureContext());
      this.log.info({ source: this.name }, 'TLS certificates reloaded');
    } catch (err) {
      this.log.error(
        { source: this.name, err: errorMessage(err) },
        'TLS certificates changed but cannot be loaded; keeping the previous ones',
      );
    }
  }

  get queued(): number {
    return this.buffer.queued;
  }

  batches(): AsyncIterable<SourceBatch> {
    return this.buffer;
  }

  private reply(res: http.ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(body + '\n');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if ((req.url ?? '/').split('?')[0] !== (this.opts.path ?? '/'))
      return this.reply(res, 404, `POST alerts to ${this.opts.path ?? '/'}`);
    if (req.method !== 'POST') return this.reply(res, 405, 'use POST with a Falco JSON alert', { allow: 'POST' });
    if (this.opts.secret && !this.secretOk(req.headers[this.opts.secret.header.toLowerCase()])) {
      const n = this.limiter.allow('secret');
      if (n >= 0)
        this.log.warn(
          { source: this.name, remote: req.socket.remoteAddress, suppressed: n },
          'alert rejected: missing or wrong shared secret',
        );
      return this.reply(res, 401, `missing or wrong ${this.opts.secret.header} header`);
    }
    const max = this.opts.maxBodyBytes ?? 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > max) {
        this.stats.malformed++;
        return this.reply(res, 413, `body larger than ${max} bytes`, { connection: 'close' });
      }
      chunks.push(c as Buffer);
    }
    this.stats.received++;
    let alerts: Alert[];
    try {
      const doc: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      alerts = (Array.isArray(doc) ? doc : [doc]).map((d) => {
        const a = alertFromFalcoJson(d);
        const limited = limitAlert(a);
        if (limited !== a) this.stats.truncated++;
        return limited;
      });
    } catch (err) {
      this.stats.malformed++;
      const msg = err instanceof AlertFormatError ? err.message : `not valid JSON: ${errorMessage(err)}`;
      const n = this.limiter.allow('malformed');
      if (n >= 0) this.log.warn({ source: this.name, err: msg, suppressed: n }, 'malformed alert rejected');
      return this.reply(res, 400, msg);
    }
    const peer = req.socket.remoteAddress ?? 'unix';
    if (!this.peers.take(peer, alerts.length)) {
      this.stats.rateLimited += alerts.length;
      const n = this.limiter.allow('rate');
      if (n >= 0)
        this.log.warn(
          { source: this.name, remote: peer, suppressed: n },
          'peer over its alert rate limit: rejecting with 429',
        );
      return this.reply(res, 429, 'too many alerts from this peer: retry later', { 'retry-after': '1' });
    }
    if (this.stopped || !this.buffer.offer({ kind: 'alerts', source: this.name, alerts })) {
      this.stats.dropped += alerts.length;
      const n = this.limiter.allow('full');
      if (n >= 0)
        this.log.warn(
          { source: this.name, suppressed: n },
          'alert buffer full: rejecting with 503 (the sender may retry)',
        );
      return this.reply(res, 503, 'busy: retry later', { 'retry-after': '1' });
    }
    this.stats.decoded += alerts.length;
    this.reply(res, 200, 'ok');
  }

  private requestFailed(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    this.stats.aborted++;
    const n = this.limiter.allow('aborted');
    if (n >= 0)
      this.log.warn(
        { source: this.name, remote: req.socket.remoteAddress, err: errorMessage(err), suppressed: n },
        'request failed before its body was read (connection dropped?); nothing accepted',
      );
    if (!res.headersSent && !res.destroyed)
      this.reply(res, 400, 'request body could not be read', { connection: 'close' });
    else res.destroy();
  }

  private secretOk(got: string | string[] | undefined): boolean {
    if (typeof got !== 'string') return false;
    const a = Buffer.from(got);
    const b = Buffer.from(this.opts.secret!.value);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Stops taking alerts: idle connections close at once, requests being read get until
   * `deadline` (at most 2 s) to finish, then every connection is dropped (slow clients too).
   */
  async shutdown(deadline: Deadline = deadlineIn(2_000)): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const f of this.watched) unwatchFile(f);
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(
          () => {
            server.closeAllConnections();
            resolve();
          },
          Math.min(msLeft(deadline), 2_000),
        );
        server.close(() => {
          clearTimeout(t);
          resolve();
        });
        server.closeIdleConnections();
      });
    }
    this.stats.connected = false;
    this.buffer.close();
  }
}

/** Token buckets per peer address (bounded: the least recently seen peers are forgotten). */
class PeerBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxPeers = 4_096,
  ) {}

  /** Takes `n` tokens for `peer`; false (nothing taken) when it has not enough. */
  take(peer: string, n: number): boolean {
    const now = Date.now();
    let b = this.buckets.get(peer);
    if (b)
      this.buckets.delete(peer); // re-inserted below: Map order is recency
    else {
      if (this.buckets.size >= this.maxPeers) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.burst, at: now };
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.set(peer, b);
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }
}

/** The `falco-http` source: loopback by default; exposed listeners need TLS or a secret. */
export const falcoHttpSourcePlugin = defineSourcePlugin({
  type: 'falco-http',
  description: "Falco's JSON alerts by HTTP POST (Falco >= 0.44 http_output, Falcosidekick input)",
  deliversAlerts: true,
  schema: z
    .object({
      listen: z.string().min(1).optional(),
      path: z.string().startsWith('/').optional(),
      tls: TlsSchema.optional(),
      secret: z
        .object({ header: z.string().min(1), value: z.string().min(1) })
        .strict()
        .optional(),
      bufferAlerts: z.number().int().positive().optional(),
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .max(64 * 1024 * 1024)
        .optional(),
      name: z.string().optional(),
      rateLimit: z
        .object({ alertsPerSecond: z.number().positive(), burst: z.number().int().positive() })
        .strict()
        .optional(),
      insecure: z.boolean().optional(),
    })
    .strict()
    .superRefine((o, ctx) => {
      if (o.tls && !o.tls.cert)
        ctx.addIssue({
          code: 'custom',
          path: ['tls', 'cert'],
          message: 'a server needs its certificate and key (cert, key); ca adds mutual TLS',
        });
      const listen = o.listen ?? DEFAULT_FALCO_HTTP_LISTEN;
      if (!isLoopbackListen(listen) && !o.tls?.cert && !o.secret && !o.insecure) {
        ctx.addIssue({
          code: 'custom',
          path: ['listen'],
          message: `${listen} is reachable from other machines, but without tls or a secret anyone there can inject alerts: add tls (cert, key; ca for mutual TLS) or a secret, listen on 127.0.0.1, or set insecure: true on a trusted network`,
        });
      }
    }),
  example: {
    listen: '0.0.0.0:2801',
    path: '/',
    secret: { header: 'X-Peregrine-Token', value: 'a long random string' },
  },
  address: { key: 'listen', default: DEFAULT_FALCO_HTTP_LISTEN },
  build: (o, c) => new FalcoHttpSource({ ...o, logger: c.logger }),
});
