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
