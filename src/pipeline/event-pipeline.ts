import { from, merge, type Subscription } from 'rxjs';
import type { Alert, SyscallEvent } from '../event/index.js';
import type { SourceBatch, EventSource } from '../sources/index.js';
import type { AlertSink } from '../sinks/index.js';
import { RateLimiter, type AgentMetrics, type Logger } from '../telemetry/index.js';
import type { Engine } from '../engine/index.js';
import { errorMessage } from '../event/index.js';
import { settleBy, type Deadline } from '../lifecycle.js';
import { PendingEvents, type EnrichStage, type PendingLimits } from './pending-events.js';

/** What a pipeline has processed so far. */
export interface PipelineStats {
  batches: number;
  /** Events evaluated against the rules. */
  events: number;
  /** Alerts emitted: rule matches and alerts passed through from Falco sources. */
  alerts: number;
}

/**
 * Sources → engine → sinks. Every batch is evaluated with the engine current at its start; each
 * match becomes an alert written to every sink; alerts from Falco sources pass through. Per-event
 * failures are caught, counted and logged at a bounded rate; they never end the stream.
 *
 * Two ways to drive it, one processing path: `start()` (the daemon) merges every source's
 * batches on RxJS as they come; `drain(after)` (one-shot runs such as `peregrine replay`) reads
 * them in turn and awaits `after()` between batches, so a slow consumer of the output holds the
 * input back instead of buffering it. `done` resolves when every source has ended.
 */
export class EventPipeline {
  readonly stats: PipelineStats = { batches: 0, events: 0, alerts: 0 };
  private sub: Subscription | undefined;
  private readonly limiter = new RateLimiter();
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly sources: readonly EventSource[],
    private readonly engine: () => Engine,
    private readonly sinks: readonly AlertSink[],
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    /** The enrich stage: container and pod metadata into each event before rules see it. */
    enrich?: EnrichStage,
    pendingLimits?: PendingLimits,
  ) {
    this.done = new Promise((r) => (this.finish = r));
    this.enrich = enrich;
    this.pending = enrich && new PendingEvents(enrich, (e, source) => this.evaluateReleased(e, source), pendingLimits);
  }

  private readonly enrich: EnrichStage | undefined;
  /** Events waiting for their container's metadata (see {@link PendingEvents}). */
  readonly pending: PendingEvents | undefined;

  /** Subscribes to every source; resolves at once (batches flow as sources deliver them). */
  async start(): Promise<void> {
    // Only the async-iterator protocol is exposed to RxJS (so nothing else about a source's
    // buffer, such as a length, makes `from` treat it as an array).
    const streams = this.sources.map((s) =>
      from({ [Symbol.asyncIterator]: () => s.batches()[Symbol.asyncIterator]() }),
    );
    this.sub = merge(...streams).subscribe({
      next: (b) => this.batch(b),
      error: (err: Error) => {
        this.log.error({ err: err.message }, 'pipeline: a source failed');
        this.finish();
      },
      complete: () => this.finish(),
    });
  }

  /**
   * Processes every source's batches until all have ended (one-shot runs), awaiting `after`
   * between batches; then resolves `done`.
   */
  async drain(after: () => Promise<void> = async () => {}): Promise<void> {
    try {
      await Promise.all(
        this.sources.map(async (s) => {
          for await (const b of s.batches()) {
            this.batch(b);
            await after();
          }
        }),
      );
    } finally {
      this.finish();
    }
  }

  /** Emits an alert to every sink (also used for Peregrine's internal alerts). */
  emit(alert: Alert, event?: SyscallEvent): void {
    this.stats.alerts++;
    for (const s of this.sinks) s.write(alert);
    for (const o of this.observers) o(alert, event);
  }

  /** Calls `fn` with every alert (and the event that raised it, for rule matches): responses. Must not throw. */
  observe(fn: (alert: Alert, event?: SyscallEvent) => void): void {
    this.observers.push(fn);
  }

  private readonly observers: Array<(alert: Alert, event?: SyscallEvent) => void> = [];

  private batch(b: SourceBatch): void {
    this.stats.batches++;
    if (b.kind === 'alerts') {
      this.metrics.eventsDecoded.inc({ source: b.source }, b.alerts.length);
      for (const a of b.alerts) this.emit(a);
      return;
    }
    this.metrics.eventsDecoded.inc({ source: b.source }, b.events.length);
    const engine = this.engine(); // one ruleset for the whole batch
    const timeSlot = engine.load.table.idOf('evt.time'); // once per batch, not per alert
    const now = BigInt(Date.now()) * 1_000_000n;
    let evaluated = 0;
    for (const raw of b.events) {
      let ev = raw;
      if (this.enrich) {
        const e = this.enrich.tryEnrich(raw);
        // a container the runtime does not know yet: the event waits (bounded); the batch goes on
        if (e === undefined && this.pending!.hold(raw, b.source)) continue;
        ev = e ?? raw;
      }
      evaluated += this.evaluateOne(ev, b.source, engine, timeSlot, now);
    }
    this.metrics.eventsEvaluated.inc(evaluated);
    this.stats.events += evaluated;
  }

  /** An event released by the pending cache (enriched, or as it was after its wait). */
  private evaluateReleased(ev: SyscallEvent, source: string): void {
    const engine = this.engine();
    const n = this.evaluateOne(ev, source, engine, engine.load.table.idOf('evt.time'), BigInt(Date.now()) * 1_000_000n);
    this.metrics.eventsEvaluated.inc(n);
    this.stats.events += n;
  }

  /** Evaluates one event and emits its alerts; 1 when evaluated, 0 when it failed (counted, logged). */
  private evaluateOne(ev: SyscallEvent, source: string, engine: Engine, timeSlot: number, now: bigint): number {
    try {
      engine.evaluate(ev, (rule) => {
        const alert = engine.alert(rule, ev);
        const ns = alert.output_fields['k8s.ns.name'];
        this.metrics.ruleMatches.inc({
          rule: rule.name,
          priority: rule.priority,
          namespace: typeof ns === 'string' ? ns : '',
        });
        const t = timeSlot >= 0 ? ev.values[timeSlot] : undefined;
        if (typeof t === 'bigint' && t <= now) this.metrics.latency.observe(Number(now - t) / 1e9);
        this.emit(alert, ev);
      });
      return 1;
    } catch (err) {
      this.metrics.eventsDropped.inc({ source, reason: 'evaluation_error' });
      const n = this.limiter.allow('eval');
      if (n >= 0)
        this.log.error({ err: errorMessage(err), suppressed: n }, 'pipeline: an event failed to evaluate; skipped');
      return 0;
    }
  }

  /** Lets the sources' last batches drain until `deadline`, then unsubscribes. Idempotent. */
  async shutdown(deadline: Deadline): Promise<void> {
    await settleBy(this.done, deadline);
    this.pending?.flush();
    this.sub?.unsubscribe();
    this.finish();
  }
}
