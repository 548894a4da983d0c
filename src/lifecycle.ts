/**
 * The one lifecycle every long-lived component follows (sources, sinks, the pipeline, servers,
 * the rules manager and fetcher, the sensor and its capture):
 *
 * - `start()` acquires what the component needs (sockets, files, children) and resolves when it
 *   works; it rejects with a clear error when it cannot, leaving nothing behind.
 * - `shutdown(deadline)` releases everything by `deadline`, cutting what is still in flight at
 *   the deadline rather than waiting past it. It is idempotent and safe before `start()`.
 * - `stats` is a read-only snapshot property (never a method), cheap enough for every scrape.
 *
 * A deadline is an instant, not a duration, so that one deadline passes down a chain of
 * components unchanged: each takes what is left.
 */
export interface Deadline {
  /** Milliseconds on `Date.now()`'s clock. */
  readonly at: number;
}

/** The deadline `ms` from now. */
export function deadlineIn(ms: number): Deadline {
  return { at: Date.now() + ms };
}

/** Milliseconds left until `deadline` (0 when it has passed). */
export function msLeft(deadline: Deadline): number {
  return Math.max(0, deadline.at - Date.now());
}

/** Resolves when `p` settles or when `deadline` passes, whichever is first; never rejects. */
export function settleBy(p: Promise<unknown>, deadline: Deadline): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, msLeft(deadline));
    t.unref?.();
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

/** What every long-lived component implements (see the module comment). */
export interface Lifecycle {
  start(): Promise<void>;
  shutdown(deadline: Deadline): Promise<void>;
}
