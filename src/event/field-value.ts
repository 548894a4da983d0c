/**
 * A field's value inside an event. `undefined` means the field is *missing* (Falco's `<NA>`):
 * comparisons against it are false and `exists` is false.
 * Absolute times (`abstime`) are nanoseconds since the epoch as `bigint`.
 */
export type FieldValue = string | number | bigint | boolean | readonly string[];

/** The type of a field in the catalog; drives operator checks, value parsing and JSON output. */
export type FieldType =
  | 'string' // text (CHARBUF)
  | 'number' // signed or unsigned integer
  | 'bool'
  | 'abstime' // ns since epoch, bigint
  | 'reltime' // ns duration, number
  | 'ip' // IPv4/IPv6 address as text
  | 'ipnet' // an address compared against networks (CIDR) with `=`/`in`
  | 'port' // number
  | 'bytes' // raw buffer, compared as text
  | 'list'; // list of strings (compared element-wise)

/** How a field takes an argument in brackets: `proc.aname[2]`, `k8s.pod.label[app]`. */
export type FieldArgForm =
  | 'none'
  | 'index' // `[N]` required
  | 'index-or-any' // `[N]`, or no argument meaning "any ancestor"
  | 'key' // `[KEY]` required
  | 'key-optional'; // `[KEY]` optional

/** Stringifies a value the way Falco prints it in text output. */
export function fieldValueToText(v: FieldValue | undefined): string {
  if (v === undefined) return '<NA>';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return (v as readonly string[]).join(',');
  return String(v);
}
