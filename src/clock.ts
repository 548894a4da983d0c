/**
 * Time as components see it: the current instant and timers. Components that wait (folding
 * windows, quiet periods before a resolution, retry backoff) take a `Clock` so tests can move time
 * forward instead of sleeping; production uses {@link SYSTEM_CLOCK}. Timers of the system clock
 * never keep the process alive (they are unref'd): a component's `shutdown` clears its own.
 */
export interface Clock {
  /** Milliseconds on `Date.now()`'s scale. */
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** Cancels a timeout or an interval (undefined: nothing to cancel). */
  clear(timer: ClockTimer | undefined): void;
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number): Promise<void>;
}

/** A timer of some clock; only that clock can clear it. */
export interface ClockTimer {
  readonly __clockTimer?: never;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref() as ClockTimer,
  setInterval: (fn, ms) => setInterval(fn, ms).unref() as ClockTimer,
  clear: (t) => {
    if (t !== undefined) clearTimeout(t as NodeJS.Timeout);
  },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref()),
};
