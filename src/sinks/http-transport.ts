import { createHmac } from 'node:crypto';
import { Pool } from 'undici';
import { errorMessage, alertToJson, type Alert } from '../event/index.js';
import type { AlertTransport } from './alert-transport.js';
import { DeliveryError, parseRetryAfter } from './delivery-error.js';

export interface HttpTransportOptions {
  readonly url: string;
  /** The request body for an alert (JSON text); Falco's JSON alert when not given. */
  readonly render?: (alert: Alert) => string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Signs each body: header `X-Peregrine-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
  readonly hmacSecret?: string;
  /** Per request, connecting included (default 10 s). */
  readonly timeoutMs?: number;
  /** Kept-alive connections (the sink's concurrency). */
  readonly connections?: number;
}

/** The longest response body read (receivers' error pages are not needed whole). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** undici's codes for a request that took too long. */
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * POSTs one alert per request over a pool of kept-alive connections (undici: ~2.5× node:http
 * and ~10× `fetch` on loopback at 4 connections, which the alerts bench needs). 2xx is success;
 * 4xx other than 408/429 is permanent; everything else — 5xx, 408, 429, timeouts, refused or
 * reset connections — is transient, carrying the receiver's Retry-After.
 */
export class HttpTransport implements AlertTransport {
  readonly target: string;
  private readonly path: string;
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  /** The headers every request carries (the signature is added per body). */
  private readonly headers: Readonly<Record<string, string>>;

  constructor(private readonly opts: HttpTransportOptions) {
    this.headers = { 'content-type': 'application/json', 'user-agent': 'peregrine', ...opts.headers };
    const url = new URL(opts.url);
    this.target = maskUrl(opts.url);
    this.path = `${url.pathname}${url.search}`;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    // undici's own timeouts only back ours up
    const backstop = this.timeoutMs + 2_000;
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 4,
      connect: { timeout: backstop },
      headersTimeout: backstop,
      bodyTimeout: backstop,
    });
  }

  async send(alert: Alert): Promise<void> {
    let body: string;
    try {
      body = this.opts.render ? this.opts.render(alert) : alertToJson(alert);
    } catch (err) {
      // a message format that cannot take this alert: retrying cannot help
      throw new DeliveryError(`cannot build the message: ${errorMessage(err)}`, true, undefined, { cause: err });
    }
    const headers = this.opts.hmacSecret
      ? {
          ...this.headers,
          'x-peregrine-signature': `sha256=${createHmac('sha256', this.opts.hmacSecret).update(body).digest('hex')}`,
        }
      : this.headers;
    let status: number;
    let retryAfter: string | string[] | undefined;
    // our own timer: undici's timeouts tick once a second, too coarse for sub-second settings
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const res = await this.pool.request({ path: this.path, method: 'POST', headers, body, signal: abort.signal });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      await res.body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => undefined);
    } catch (err) {
      const code = (err as { code?: string }).code ?? errorMessage(err);
      const why =
        abort.signal.aborted || TIMEOUTS.has(code)
          ? `timed out after ${this.timeoutMs} ms`
          : `connection failed: ${code}`;
      throw new DeliveryError(why, false, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (status >= 200 && status < 300) return;
    const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
    throw new DeliveryError(
      `HTTP ${status}`,
      permanent,
      parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
    );
  }

  close(): void {
    void this.pool.destroy().catch(() => undefined);
  }
}

/** A URL for logs: scheme and host only (paths and queries of webhooks often hold secrets). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '<invalid URL>';
  }
}
