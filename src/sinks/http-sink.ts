import { createHmac } from 'node:crypto';
import { alertToJson, atLeast, type Alert, type Priority } from '../event/index.js';
import { Backoff } from '../sources/backoff.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import type { AlertSink } from './alert-sink.js';

export interface HttpSinkOptions {
  readonly name: string;
  readonly url: string;
  /** The request body for an alert (JSON text); Falco's JSON alert when not given. */
  readonly render?: (alert: Alert) => string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Signs each body: header `X-Peregrine-Signature: sha256=<hex HMAC>`. */
  readonly hmacSecret?: string;
  readonly minPriority?: Priority;
  /** Alerts waiting for delivery; beyond this the oldest are dropped (counted). */
  readonly queueSize?: number;
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  readonly logger?: Logger;
  readonly onOutcome?: (outcome: 'sent' | 'failed' | 'retried' | 'dropped' | 'filtered') => void;
}

/** A delivery failure: permanent (4xx other than 408/429) or transient (retried). */
class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * Delivers alerts by HTTP POST, one per request, in order, from a bounded queue: retries with
 * exponential backoff and jitter, honouring Retry-After; 4xx other than 408/429 is permanent
 * (logged, counted, not retried); a per-request timeout. The body comes from `render` (the
 * plug-in's message format: Falco JSON for webhooks, Block Kit for Slack, Events v2 for
 * PagerDuty, ...), so the delivery behaviour is written once. URLs are logged masked.
 */
export class HttpSink implements AlertSink {
  readonly name: string;
  readonly counts = { sent: 0, failed: 0, retried: 0, dropped: 0 };
  private readonly queue: Alert[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  private closed = false;
  private readonly log: Logger;
  private readonly limiter = new RateLimiter();

  constructor(private readonly opts: HttpSinkOptions) {
    this.name = opts.name;
    this.log = opts.logger ?? silentLogger();
  }

  write(alert: Alert): void {
    if (this.opts.minPriority && !atLeast(alert.priority, this.opts.minPriority)) {
      this.opts.onOutcome?.('filtered');
      return;
    }
    if (this.queue.length >= (this.opts.queueSize ?? 10_000)) {
      this.queue.shift();
      this.counts.dropped++;
      this.opts.onOutcome?.('dropped');
    }
    this.queue.push(alert);
    if (!this.running) this.run();
  }

  private run(): void {
    this.running = true;
    this.idle = new Promise((r) => (this.release = r));
    void (async () => {
      // the alert in flight leaves the queue first: the bound applies to waiting alerts only
      for (let alert = this.queue.shift(); alert; alert = this.queue.shift()) await this.deliver(alert);
      this.running = false;
      this.release?.();
    })();
  }

  private async deliver(alert: Alert): Promise<void> {
    const body = this.opts.render ? this.opts.render(alert) : alertToJson(alert);
    const backoff = new Backoff(200, 10_000);
    const max = this.opts.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.post(body);
        this.counts.sent++;
        this.opts.onOutcome?.('sent');
        return;
      } catch (err) {
        const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, false);
        if (e.permanent || attempt >= max || this.closed) {
          this.counts.failed++;
          this.opts.onOutcome?.('failed');
          const n = this.limiter.allow('failed');
          if (n >= 0) this.log.error({ sink: this.name, url: maskUrl(this.opts.url), err: e.message, permanent: e.permanent, attempts: attempt, suppressed: n }, 'alert delivery failed');
          return;
        }
        this.counts.retried++;
        this.opts.onOutcome?.('retried');
        await new Promise((r) => setTimeout(r, e.retryAfterMs ?? backoff.next()));
      }
    }
  }

  private async post(body: string): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'peregrine', ...this.opts.headers };
    if (this.opts.hmacSecret) headers['x-peregrine-signature'] = `sha256=${createHmac('sha256', this.opts.hmacSecret).update(body).digest('hex')}`;
    let res: Response;
    try {
      res = await fetch(this.opts.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
    } catch (err) {
      throw new DeliveryError(`${(err as Error).name === 'TimeoutError' ? 'timed out' : 'connection failed'}: ${(err as Error).cause ? String(((err as Error).cause as Error).message ?? '') : (err as Error).message}`, false);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    const ra = res.headers.get('retry-after');
    const retryAfterMs = ra ? (/^\d+$/.test(ra) ? Number(ra) * 1000 : Math.max(0, Date.parse(ra) - Date.now())) : undefined;
    const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    throw new DeliveryError(`HTTP ${res.status}`, permanent, retryAfterMs);
  }

  /** Resolves when the queue is empty. */
  flush(): Promise<void> {
    return this.running ? this.idle : Promise.resolve();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
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
