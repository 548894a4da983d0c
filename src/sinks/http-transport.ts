import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { alertToJson, type Alert } from '../event/index.js';
import type { AlertTransport } from './alert-transport.js';
import { DeliveryError, parseRetryAfter } from './delivery-error.js';

export interface HttpTransportOptions {
  readonly url: string;
  /** The request body for an alert (JSON text); Falco's JSON alert when not given. */
  readonly render?: (alert: Alert) => string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Signs each body: header `X-Peregrine-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
  readonly hmacSecret?: string;
  /** Per request, connection included (default 10 s). */
  readonly timeoutMs?: number;
  /** Kept-alive connections (the sink's concurrency). */
  readonly maxSockets?: number;
}

/** The longest response body read (receivers' error pages are not needed whole). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one alert per request over kept-alive connections (node:http's Agent: ~4× the rate of
 * `fetch` on loopback, which the alerts bench needs). 2xx is success; 4xx other than 408/429 is
 * permanent; everything else — 5xx, 408, 429, timeouts, refused or reset connections — is
 * transient, carrying the receiver's Retry-After.
 */
export class HttpTransport implements AlertTransport {
  readonly target: string;
  private readonly url: URL;
  private readonly agent: http.Agent;

  constructor(private readonly opts: HttpTransportOptions) {
    this.url = new URL(opts.url);
    this.target = maskUrl(opts.url);
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 4 };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
  }

  send(alert: Alert): Promise<void> {
    const body = this.opts.render ? this.opts.render(alert) : alertToJson(alert);
    const headers: Record<string, string | number> = {
      'content-type': 'application/json', 'user-agent': 'peregrine', ...this.opts.headers, 'content-length': Buffer.byteLength(body),
    };
    if (this.opts.hmacSecret) headers['x-peregrine-signature'] = `sha256=${createHmac('sha256', this.opts.hmacSecret).update(body).digest('hex')}`;
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const request = this.url.protocol === 'https:' ? https.request : http.request;
    return new Promise<void>((resolve, reject) => {
      const req = request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => {
        let read = 0;
        res.on('data', (c: Buffer) => {
          read += c.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('close', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve();
          const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
          reject(new DeliveryError(`HTTP ${status}`, permanent, parseRetryAfter(res.headers['retry-after'])));
        });
      });
      const timer = setTimeout(() => req.destroy(new DeliveryError(`timed out after ${timeoutMs} ms`, false)), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof DeliveryError ? err : new DeliveryError(`connection failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, false, undefined, { cause: err }));
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
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
