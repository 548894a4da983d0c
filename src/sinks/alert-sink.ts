import type { Alert } from '../event/index.js';
import type { Deadline } from '../lifecycle.js';

/** What happened to an alert at a sink (the `outcome` label of `peregrine_alerts_total`). */
export type SinkOutcome = 'sent' | 'failed' | 'retried' | 'dropped' | 'spooled' | 'filtered' | 'folded';

/** Receives a sink's outcomes (metrics); every call is cheap and never throws. */
export interface SinkObserver {
  /** `n` alerts had `outcome`; `reason` says why for `dropped` and `failed`. */
  outcome(sink: string, outcome: SinkOutcome, n: number, reason?: string): void;
  /** An alert was delivered `seconds` after it reached the sink (retries and spooling included). */
  latency(sink: string, seconds: number): void;
}

/** An observer that records nothing. */
export const NO_OBSERVER: SinkObserver = { outcome: () => undefined, latency: () => undefined };

/** Gauges of a sink at one moment. */
export interface SinkStats {
  /** Alerts in memory: waiting, held during an outage, or in flight. */
  readonly queued: number;
  /** Alerts in the on-disk spool. */
  readonly spooled: number;
  readonly spoolBytes: number;
  /** False while the receiver is considered down (alerts go to the spool). */
  readonly up: boolean;
}

/**
 * Where alerts go. `write` never throws and never blocks (failures are counted through the
 * sink's observer); `flush` resolves when the alerts written so far are delivered or accounted
 * for; `close` stops the sink — alerts it could not deliver by `deadlineAt` (epoch ms) go to its
 * spool or are counted as dropped — and is idempotent. `reopen` re-opens output files (SIGHUP).
 */
export interface AlertSink {
  readonly name: string;
  write(alert: Alert): void;
  flush(): Promise<void>;
  /** Ready when built: resolves at once (the lifecycle's first step; see src/lifecycle.ts). */
  start(): Promise<void>;
  shutdown(deadline?: Deadline): Promise<void>;
  reopen(): void;
  readonly stats: SinkStats;
}

/** Base of the wrappers (filter, folding, resolving): forwards everything but `write`. */
export abstract class SinkWrapper implements AlertSink {
  readonly name: string;

  constructor(protected readonly inner: AlertSink) {
    this.name = inner.name;
  }

  abstract write(alert: Alert): void;

  start(): Promise<void> {
    return this.inner.start();
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  shutdown(deadline?: Deadline): Promise<void> {
    return this.inner.shutdown(deadline);
  }

  reopen(): void {
    this.inner.reopen();
  }

  get stats(): SinkStats {
    return this.inner.stats;
  }
}
