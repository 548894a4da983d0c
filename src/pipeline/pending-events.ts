import type { SyscallEvent } from '../event/index.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../clock.js';

/**
 * The enrich stage as the pipeline sees it: metadata into an event, or `undefined` while the
 * event's container is not known yet (the runtime may catch up).
 */
export interface EnrichStage {
  /** The event with container and pod fields; the event itself when it needs none; undefined when its container is unknown. */
  tryEnrich(e: SyscallEvent): SyscallEvent | undefined;
  /** Calls `fn` whenever more may be known (after the runtime was listed again). */
  onUpdate(fn: () => void): void;
}

export interface PendingLimits {
  /** How long an event may wait for its container's metadata. Default 2 s. */
  readonly waitMs?: number;
  /** Events held at once; beyond, a new unknown event goes on without waiting. Default 10,000. */
  readonly maxEvents?: number;
  /** Approximate bytes held at once (slots × 16). Default 16 MiB. */
  readonly maxBytes?: number;
}

/** Outcomes of events that met an unknown container (a snapshot). */
export interface PendingStats {
  /** Held, then enriched when the runtime caught up. */
  resolved: number;
  /** Held until the wait ran out, then went on with what was known. */
  timedOut: number;
  /** Not held: the holding area was full; went on at once with what was known. */
  overflow: number;
  /** Held right now. */
  held: number;
}

interface Held {
  readonly event: SyscallEvent;
  readonly source: string;
  readonly until: number;
  readonly bytes: number;
}

/**
 * The pending cache: events whose container the runtime does not know yet wait (bounded in time,
 * count and bytes) for the runtime to catch up, while the rest of the stream goes on; each leaves
 * through `release`, enriched or, past the wait, as it is. Outcomes are counted.
 */
export class PendingEvents {
  readonly stats: PendingStats = { resolved: 0, timedOut: 0, overflow: 0, held: 0 };
  private readonly held: Held[] = [];
  private bytes = 0;
  private timer: ClockTimer | undefined;

  constructor(
    private readonly stage: EnrichStage,
    private readonly release: (e: SyscallEvent, source: string) => void,
    private readonly limits: PendingLimits = {},
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    stage.onUpdate(() => this.retry());
  }

  /** Holds an unknown event; false (counted) when the holding area is full: evaluate it now. */
  hold(e: SyscallEvent, source: string): boolean {
    const bytes = e.values.length * 16 + 64;
    if (
      this.held.length >= (this.limits.maxEvents ?? 10_000) ||
      this.bytes + bytes > (this.limits.maxBytes ?? 16 * 1024 * 1024)
    ) {
      this.stats.overflow++;
      return false;
    }
    this.held.push({ event: e, source, until: this.clock.now() + (this.limits.waitMs ?? 2_000), bytes });
    this.bytes += bytes;
    this.stats.held = this.held.length;
    this.timer ??= this.clock.setInterval(() => this.retry(), 100);
    return true;
  }

  /** Releases every held event: enriched when now known, as it is when its wait ran out. */
  retry(): void {
    const now = this.clock.now();
    let kept = 0;
    for (const h of this.held) {
      const enriched = this.stage.tryEnrich(h.event);
      if (enriched) {
        this.stats.resolved++;
        this.out(h, enriched);
      } else if (now >= h.until) {
        this.stats.timedOut++;
        this.out(h, h.event);
      } else this.held[kept++] = h;
    }
    this.held.length = kept;
    this.stats.held = kept;
    if (kept === 0 && this.timer !== undefined) {
      this.clock.clear(this.timer);
      this.timer = undefined;
    }
  }

  /** Releases everything still held, as it is (shutdown). */
  flush(): void {
    for (const h of this.held.splice(0)) {
      this.stats.timedOut++;
      this.out(h, h.event);
    }
    this.stats.held = 0;
    this.clock.clear(this.timer);
    this.timer = undefined;
  }

  private out(h: Held, e: SyscallEvent): void {
    this.bytes -= h.bytes;
    this.release(e, h.source);
  }
}
