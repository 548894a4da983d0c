/**
 * A failed delivery attempt. `permanent` (a 4xx other than 408/429: the receiver rejected this
 * alert; retrying cannot help) or transient (retried; `retryAfterMs` from the receiver's
 * `Retry-After` when it sent one). Messages never contain secrets or URL paths.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }

  /** Any thrown value as a DeliveryError (unknown errors are transient). */
  static from(err: unknown): DeliveryError {
    return err instanceof DeliveryError
      ? err
      : new DeliveryError(err instanceof Error ? err.message : String(err), false, undefined, { cause: err });
  }
}

/** Longest wait a receiver's Retry-After can impose (a hostile or broken value cannot stall a sink for days). */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Parses `Retry-After` (delta-seconds or an HTTP date) into milliseconds from `now`, bounded. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isNaN(ms) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}
