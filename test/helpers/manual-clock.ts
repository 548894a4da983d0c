import type { Clock, ClockTimer } from '../../src/clock.js';

interface Pending {
  at: number;
  fn: () => void;
  every?: number;
}

/**
 * A clock that moves only when told: `advance(ms)` runs every timer that falls due, in time
 * order (intervals re-armed), then resolves once their effects had a turn of the event loop.
 * Starts at the real time, so instants look real in alerts.
 */
export class ManualClock implements Clock {
  private t = Date.now();
  private readonly timers = new Set<Pending>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const p: Pending = { at: this.t + Math.max(0, ms), fn };
    this.timers.add(p);
    return p as ClockTimer;
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    const every = Math.max(1, ms);
    const p: Pending = { at: this.t + every, fn, every };
    this.timers.add(p);
    return p as ClockTimer;
  }

  clear(timer: ClockTimer | undefined): void {
    if (timer !== undefined) this.timers.delete(timer as Pending);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.setTimeout(r, ms));
  }

  /** Moves time forward by `ms`, running what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.timers) if (p.at <= end && (!next || p.at < next.at)) next = p;
      if (!next) break;
      this.t = next.at;
      if (next.every) next.at += next.every;
      else this.timers.delete(next);
      next.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}
