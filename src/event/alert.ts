import type { FieldValue } from './field-value.js';
import type { Priority } from './priority.js';

/** Value of an alert's output field: native JSON types; `null` for a missing field. */
export type AlertFieldValue = string | number | bigint | boolean | readonly string[] | null;

/**
 * An alert in Falco's JSON shape (`time`, `rule`, `priority`, `source`, `tags`, `hostname`,
 * `output`, `output_fields`). Sinks and responders depend on this type only.
 */
export interface Alert {
  /** ISO 8601 with nanoseconds, UTC (`2016-08-04T16:17:57.881781397Z`). */
  readonly time: string;
  readonly rule: string;
  readonly priority: Priority;
  readonly source: string;
  readonly tags: readonly string[];
  readonly hostname: string;
  readonly output: string;
  readonly output_fields: Readonly<Record<string, AlertFieldValue>>;
}

/** Converts an event value to its alert JSON form. */
export function toAlertValue(v: FieldValue | undefined): AlertFieldValue {
  return v === undefined ? null : v;
}

/** Formats ns since the epoch as ISO 8601 UTC with nanoseconds and a `Z` suffix. */
export function isoNanos(ns: bigint): string {
  // Dates end at year 275760: a time beyond what can be printed is clamped, never thrown on
  if (ns < 0n) ns = 0n;
  if (ns > 8_640_000_000_000_000_000_000n) ns = 8_640_000_000_000_000_000_000n;
  const ms = ns / 1_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  const base = new Date(Number(ms)).toISOString(); // 2016-08-04T16:17:57.881Z
  return `${base.slice(0, 19)}.${frac}Z`;
}

/**
 * Serialises an alert as one line of JSON, keeping 64-bit integers (`bigint`) exact as JSON
 * numbers, like Falco does for `evt.time`.
 */
export function alertToJson(alert: Alert): string {
  return JSON.stringify(alert, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000BIG${v.toString()}` : v)).replace(
    /"\\u0000BIG(-?\d+)"/g,
    '$1',
  );
}
