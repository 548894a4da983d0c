import type { Alert } from '../event/index.js';
import { Backoff } from '../transport/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { NO_OBSERVER, type AlertSink, type SinkObserver, type SinkOutcome, type SinkStats } from './alert-sink.js';
import type { AlertTransport } from './alert-transport.js';
import { DeliveryError } from './delivery-error.js';
import type { DiskSpool } from './disk-spool.js';
import { decodeSpoolRecord, encodeSpoolRecord, type SpoolRecord } from './spool-record.js';
import { errorMessage } from '../event/index.js';
import type { Deadline } from '../lifecycle.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../clock.js';

export interface DeliveringSinkOptions {
  readonly name: string;
  readonly transport: AlertTransport;
  /** Alerts waiting in memory; beyond, they go to the spool (or, without one, the oldest are dropped). Default 1000. */
  readonly queueSize?: number;
  /** Requests in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Attempts per alert before the receiver is considered down. Default 4. */
  readonly maxAttempts?: number;
  /** Where alerts wait while the receiver is down; without one, they fail after `maxAttempts`. */
  readonly spool?: DiskSpool;
  /** Backoff between attempts of one alert (default 200 ms doubling to 10 s, with jitter). */
  readonly retryBackoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Longest wait between probes of a down receiver (default 30 s). */
  readonly probeMaxMs?: number;
  /** How long `close` waits for the memory queue before spooling the rest (default 5 s). */
  readonly drainMs?: number;
  /** Time for retry backoff and probes (tests move it by hand). */
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly observer?: SinkObserver;
}

/**
 * The delivery wrapper around a remote plug-in's transport, written once for every remote sink:
 * a bounded memory queue, `concurrency` requests in flight, retries with exponential backoff and
 * jitter honouring Retry-After, permanent failures (4xx other than 408/429) counted and logged
 * without retry, and an on-disk spool:
 *
 * - an alert that still fails after `maxAttempts` marks the receiver **down**: it is held, the
 *   memory queue moves to the spool, and new alerts go straight to the spool; the held alert
 *   probes the receiver with growing pauses (≤ `probeMaxMs`, or Retry-After);
 * - an alert that fails 5 probes in a row goes to the back of the spool and the next one probes
 *   (a "poison" alert the receiver always refuses with a 5xx cannot block the others);
 * - a full memory queue moves to the spool too (so the spool stays first in, first out);
 * - when a probe succeeds the sink is **up** again and drains the spool, oldest first, while new
 *   alerts queue behind it on disk;
 * - `close` delivers what it can until its deadline, then spools the rest (in-flight alerts
 *   included: at least once), so a restarted daemon delivers them.
 *
 * Every alert ends as exactly one of sent, failed (permanent, or no spool), dropped (counted, with
 * a reason) or spooled-then-one-of-those; `retried` counts extra attempts.
 */
export class DeliveringSink implements AlertSink {
  readonly name: string;
  private readonly queue: SpoolRecord[] = [];
  /** Alerts that failed while the receiver went down; the first one probes it. */
  private readonly held: SpoolRecord[] = [];
  private readonly inFlight = new Set<SpoolRecord>();
  private down = false;
  private probeTimer: ClockTimer | undefined;
  private readonly clock: Clock;
  private readonly probeBackoff: Backoff;
  /** Failed probes with the alert now at the head. */
  private probesOfHead = 0;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly log: Logger;
  private readonly observer: SinkObserver;
  private readonly limiter = new RateLimiter();
  private readonly queueSize: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;

  constructor(private readonly opts: DeliveringSinkOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? SYSTEM_CLOCK;
    this.log = opts.logger ?? silentLogger();
    this.observer = opts.observer ?? NO_OBSERVER;
    this.queueSize = opts.queueSize ?? 1000;
    this.concurrency = opts.concurrency ?? 4;
    this.maxAttempts = opts.maxAttempts ?? 4;
    this.probeBackoff = new Backoff(500, opts.probeMaxMs ?? 30_000);
    if (opts.spool?.size) {
      this.log.info({ sink: this.name, spooled: opts.spool.size }, 'delivering alerts spooled before the restart');
      setImmediate(() => this.pump());
    }
  }

  write(alert: Alert): void {
    this.enqueue({ alert, at: this.clock.now() });
  }

  private enqueue(r: SpoolRecord): void {
    const spool = this.opts.spool;
    if (this.closed) {
      this.drop(1, 'shutdown');
      return;
    }
    if (spool && (this.down || spool.size > 0 || this.queue.length >= this.queueSize)) {
      // the queue goes to disk first, so the spool stays first in, first out
      this.toSpool([...this.queue.splice(0), r]);
      this.pump();
      return;
    }
    if (this.queue.length >= this.queueSize) {
      this.queue.shift();
      this.drop(1, 'queue_full');
    }
    this.queue.push(r);
    this.pump();
  }

  private toSpool(records: readonly SpoolRecord[]): void {
    if (!records.length) return;
    this.opts.spool!.append(records.map(encodeSpoolRecord));
    this.count('spooled', records.length);
  }

  private next(): SpoolRecord | undefined {
    const r = this.queue.shift();
    if (r || this.closing || !this.opts.spool) return r;
    for (let line = this.opts.spool.shift(); line !== undefined; line = this.opts.spool.shift()) {
      try {
        return decodeSpoolRecord(line);
      } catch (err) {
        this.drop(1, 'spool_corrupt', errorMessage(err));
      }
    }
    return undefined;
  }

  /** Starts deliveries up to the concurrency limit. */
  private pump(): void {
    while (!this.down && !this.closed && this.inFlight.size < this.concurrency) {
      const r = this.next();
      if (!r) break;
      this.inFlight.add(r);
      void this.deliver(r).finally(() => {
        this.inFlight.delete(r);
        this.pump();
      });
    }
    this.wakeIdle();
  }

  private async deliver(r: SpoolRecord): Promise<void> {
    const backoff = new Backoff(this.opts.retryBackoff?.baseMs ?? 200, this.opts.retryBackoff?.maxMs ?? 10_000);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.transport.send(r.alert);
        if (this.closed) return; // spooled at close: delivered at least once
        this.sent(r);
        return;
      } catch (err) {
        if (this.closed) return;
        const e = DeliveryError.from(err);
        if (e.permanent) return this.fail(r, e, attempt);
        if (attempt < this.maxAttempts && !this.down) {
          this.count('retried', 1);
          await this.clock.sleep(e.retryAfterMs ?? backoff.next());
          if (this.closed) return;
          continue;
        }
        if (!this.opts.spool) return this.fail(r, e, attempt);
        this.held.push(r);
        this.markDown(e);
        return;
      }
    }
  }

  private sent(r: SpoolRecord): void {
    this.count('sent', 1);
    this.observer.latency(this.name, (this.clock.now() - r.at) / 1000);
  }

  private fail(r: SpoolRecord, e: DeliveryError, attempts: number): void {
    this.count('failed', 1, e.permanent ? 'rejected' : 'unreachable');
    const n = this.limiter.allow('failed');
    if (n >= 0) {
      this.log.error(
        {
          sink: this.name,
          target: this.opts.transport.target,
          rule: r.alert.rule,
          err: e.message,
          permanent: e.permanent,
          attempts,
          suppressed: n,
        },
        e.permanent
          ? 'alert rejected by the receiver (not retried); check the sink configuration'
          : 'alert delivery failed',
      );
    }
  }

  private markDown(e: DeliveryError): void {
    if (this.down) return;
    this.down = true;
    this.toSpool(this.queue.splice(0));
    this.log.warn(
      { sink: this.name, target: this.opts.transport.target, err: e.message, spooled: this.opts.spool?.size },
      'receiver down: alerts go to the spool until it recovers',
    );
    this.scheduleProbe(e.retryAfterMs);
  }

  private scheduleProbe(retryAfterMs: number | undefined): void {
    if (this.closing) return;
    this.probeTimer = this.clock.setTimeout(() => void this.probe(), retryAfterMs ?? this.probeBackoff.next());
  }

  /** One attempt with the oldest held alert: success (or a rejection: the receiver answered) means up. */
  private async probe(): Promise<void> {
    const r = this.held.shift() ?? this.next();
    if (!r) return this.markUp();
    this.inFlight.add(r);
    let error: DeliveryError | undefined;
    try {
      await this.opts.transport.send(r.alert);
    } catch (err) {
      error = DeliveryError.from(err);
    }
    this.inFlight.delete(r);
    if (this.closed) return;
    if (!error) {
      this.sent(r);
      this.markUp();
    } else if (error.permanent) {
      this.fail(r, error, 1);
      this.markUp();
    } else {
      this.count('retried', 1);
      // An alert the receiver keeps failing while others might pass (a "poison" alert) must not
      // block the sink: after PROBES_PER_ALERT failed probes it goes to the back of the spool.
      if (++this.probesOfHead >= PROBES_PER_ALERT && this.opts.spool && this.opts.spool.size > 0) {
        this.probesOfHead = 0;
        this.toSpool([r]);
      } else this.held.unshift(r);
      this.scheduleProbe(error.retryAfterMs);
    }
  }

  private markUp(): void {
    const outage = this.down;
    this.down = false;
    this.probesOfHead = 0;
    this.probeBackoff.reset();
    this.queue.unshift(...this.held.splice(0));
    if (outage)
      this.log.info(
        { sink: this.name, target: this.opts.transport.target, spooled: this.opts.spool?.size ?? 0 },
        'receiver recovered: delivering the spool',
      );
    this.pump();
  }

  private drop(n: number, reason: string, detail?: string): void {
    this.count('dropped', n, reason);
    const suppressed = this.limiter.allow(`drop:${reason}`);
    if (suppressed >= 0) this.log.warn({ sink: this.name, reason, detail, dropped: n, suppressed }, 'alerts dropped');
  }

  private count(outcome: SinkOutcome, n: number, reason?: string): void {
    this.observer.outcome(this.name, outcome, n, reason);
  }

  private get idle(): boolean {
    return this.down || (this.queue.length === 0 && this.inFlight.size === 0);
  }

  private wakeIdle(): void {
    if (!this.idle || !this.idleWaiters.length) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when the memory queue is empty and nothing is in flight (or the receiver is down). */
  flush(): Promise<void> {
    return this.idle ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /** Counts records the spool lost (full, or an I/O error) as dropped (wired by whoever opened the spool). */
  onSpoolDrop(n: number, reason: string, err?: Error): void {
    this.drop(n, reason, err?.message);
  }

  /** Ready when built. */
  async start(): Promise<void> {}

  shutdown(deadline?: Deadline): Promise<void> {
    const deadlineAt = deadline?.at;
    this.closePromise ??= (async () => {
      this.closing = true;
      const waitMs = Math.min(this.opts.drainMs ?? 5_000, (deadlineAt ?? Infinity) - Date.now());
      if (waitMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.flush(), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
        clearTimeout(timer);
      }
      this.closed = true;
      this.clock.clear(this.probeTimer);
      const rest = [...this.held.splice(0), ...this.inFlight, ...this.queue.splice(0)];
      this.inFlight.clear();
      if (this.opts.spool) {
        this.toSpool(rest);
        this.opts.spool.close();
        if (rest.length)
          this.log.info(
            { sink: this.name, spooled: this.opts.spool.size },
            'alerts left in the spool for the next start',
          );
      } else if (rest.length) {
        this.drop(rest.length, 'shutdown');
      }
      this.opts.transport.close();
      this.wakeIdle();
    })();
    return this.closePromise;
  }

  reopen(): void {
    // no files to reopen: the transport's connections are re-established on their own
  }

  get stats(): SinkStats {
    return {
      queued: this.queue.length + this.held.length + this.inFlight.size,
      spooled: this.opts.spool?.size ?? 0,
      spoolBytes: this.opts.spool?.bytes ?? 0,
      up: !this.down,
    };
  }
}

/** Failed probes with one alert before the next alert probes instead. */
const PROBES_PER_ALERT = 5;
