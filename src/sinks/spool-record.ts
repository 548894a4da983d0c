import { errorMessage, parsePriority, type Alert } from '../event/index.js';

/** An alert waiting in a sink's spool, with the time it reached the sink (for delivery latency). */
export interface SpoolRecord {
  readonly alert: Alert;
  /** Epoch ms when the alert reached the sink. */
  readonly at: number;
}

/**
 * One spool line: JSON, with 64-bit integers (bigint output fields such as `evt.rawtime`) kept
 * exact as `{"$bigint":"…"}` — alert field values are never objects, so the tag is unambiguous.
 */
export function encodeSpoolRecord(r: SpoolRecord): string {
  return JSON.stringify({ at: r.at, alert: r.alert }, (_k, v: unknown) =>
    typeof v === 'bigint' ? { $bigint: v.toString() } : v,
  );
}

/** A spool line that cannot be read back (a torn write, a foreign file). */
export class SpoolRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolRecordError';
  }
}

/** Reads a line written by {@link encodeSpoolRecord}; throws SpoolRecordError otherwise. */
export function decodeSpoolRecord(line: string): SpoolRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(line, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { $bigint?: unknown }).$bigint === 'string'
        ? BigInt((v as { $bigint: string }).$bigint)
        : v,
    );
  } catch (err) {
    throw new SpoolRecordError(`not JSON (${errorMessage(err)})`);
  }
  const d = doc as { at?: unknown; alert?: Partial<Alert> } | null;
  const a = d?.alert;
  if (
    typeof d?.at !== 'number' ||
    !a ||
    typeof a.rule !== 'string' ||
    typeof a.time !== 'string' ||
    typeof a.output !== 'string' ||
    !parsePriority(String(a.priority)) ||
    !a.output_fields ||
    typeof a.output_fields !== 'object' ||
    !Array.isArray(a.tags)
  ) {
    throw new SpoolRecordError(
      'not a spooled alert (needs "at" and an alert with rule, time, priority, output, output_fields, tags)',
    );
  }
  return { at: d.at, alert: a as Alert };
}
