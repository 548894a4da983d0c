/**
 * The message of anything thrown: an Error's `message`, else its string form. The one way code
 * turns a caught value into text (no `(err as Error)` casts, which print `undefined` for
 * non-Error throws).
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return String(err);
  } catch {
    return 'unprintable error';
  }
}

/** An I/O failure for a message: its errno code (`ENOENT`, `EACCES`…) when it has one, else its message. */
export function ioErrorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : errorMessage(err);
}

/** Anything thrown, as an Error (itself when it is one). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err));
}
