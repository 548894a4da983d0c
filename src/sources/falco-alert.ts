import { parsePriority, type Alert, type AlertFieldValue } from '../event/index.js';

/** A Falco alert document that is not acceptable; says which key and why. */
export class AlertFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertFormatError';
  }
}

/**
 * Limits on one alert taken from a peer (Falco, Falcosidekick): an alert beyond them is kept but
 * cut down (long texts end in `…[truncated]`, the mark within the limit, fields past the count are left out) and carries
 * `peregrine.truncated: true`. Bounds what one alert costs in the folding window, the spool and
 * every receiver, whatever a peer sends.
 */
export const ALERT_LIMITS = {
  ruleChars: 1_024,
  outputChars: 16_384,
  fieldChars: 4_096,
  fields: 256,
  tags: 64,
  tagChars: 256,
} as const;

/** The mark a cut-down alert carries in `output_fields`. */
export const TRUNCATED_FIELD = 'peregrine.truncated';

const MARK = '…[truncated]';
/** `s` within `max` characters, the mark included when cut. */
const cut = (s: string, max: number): [string, boolean] =>
  s.length > max ? [`${s.slice(0, max - MARK.length)}${MARK}`, true] : [s, false];

/**
 * Cuts an alert down to {@link ALERT_LIMITS}; returns it unchanged (same object) when it is
 * within them.
 */
export function limitAlert(a: Alert): Alert {
  let truncated = false;
  const text = (s: string, max: number): string => {
    const [t, c] = cut(s, max);
    truncated ||= c;
    return t;
  };
  const rule = text(a.rule, ALERT_LIMITS.ruleChars);
  const output = text(a.output, ALERT_LIMITS.outputChars);
  const hostname = text(a.hostname, ALERT_LIMITS.tagChars);
  const source = text(a.source, ALERT_LIMITS.tagChars);
  const tags = a.tags.slice(0, ALERT_LIMITS.tags).map((t) => text(t, ALERT_LIMITS.tagChars));
  if (a.tags.length > ALERT_LIMITS.tags) truncated = true;
  const fields: Record<string, AlertFieldValue> = {};
  let n = 0;
  for (const [k, v] of Object.entries(a.output_fields)) {
    if (++n > ALERT_LIMITS.fields) {
      truncated = true;
      break;
    }
    const key = text(k, ALERT_LIMITS.tagChars);
    if (typeof v === 'string') fields[key] = text(v, ALERT_LIMITS.fieldChars);
    else if (Array.isArray(v)) {
      const joined = v.join(',');
      fields[key] = joined.length > ALERT_LIMITS.fieldChars ? text(joined, ALERT_LIMITS.fieldChars) : v;
    } else fields[key] = v;
  }
  if (!truncated) return a;
  fields[TRUNCATED_FIELD] = true;
  return { ...a, rule, output, hostname, source, tags, output_fields: fields };
}

/**
 * Validates and normalises Falco's JSON alert (`time`, `rule`, `priority`, `output`,
 * `output_fields`, `hostname`, `tags`, `source`), the document of Falco's http_output and
 * Falcosidekick's input, into an {@link Alert}.
 */
export function alertFromFalcoJson(doc: unknown): Alert {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new AlertFormatError('expected a JSON object (one Falco alert)');
  const d = doc as Record<string, unknown>;
  if (typeof d.rule !== 'string' || d.rule === '') throw new AlertFormatError('"rule" must be a non-empty string');
  const priority = typeof d.priority === 'string' ? parsePriority(d.priority) : undefined;
  if (!priority)
    throw new AlertFormatError(`"priority" must be a Falco priority (Emergency … Debug), got ${shown(d.priority)}`);
  const time =
    typeof d.time === 'string' && d.time.length <= 64 && !Number.isNaN(Date.parse(d.time)) ? d.time : undefined;
  if (d.time !== undefined && !time)
    throw new AlertFormatError(`"time" must be an RFC 3339 time, got ${shown(d.time)}`);
  const fields: Record<string, AlertFieldValue> = {};
  if (d.output_fields !== undefined) {
    if (!d.output_fields || typeof d.output_fields !== 'object' || Array.isArray(d.output_fields))
      throw new AlertFormatError('"output_fields" must be an object');
    for (const [k, v] of Object.entries(d.output_fields as Record<string, unknown>)) {
      fields[k] =
        v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
          ? v
          : Array.isArray(v)
            ? v.map(itemText)
            : itemText(v);
    }
  }
  const tags = Array.isArray(d.tags) ? d.tags.map(itemText) : [];
  return {
    time: time ?? new Date().toISOString(),
    rule: d.rule,
    priority,
    source: typeof d.source === 'string' && d.source ? d.source : 'syscall',
    tags,
    hostname: typeof d.hostname === 'string' ? d.hostname : '',
    output: typeof d.output === 'string' ? d.output : '',
    output_fields: fields,
  };
}

/** An item of a list (a tag, a list field's value) as text; a nested array or object as JSON when it is small. */
function itemText(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  try {
    const j = JSON.stringify(v);
    return j.length <= ALERT_LIMITS.fieldChars ? j : `${j.slice(0, ALERT_LIMITS.fieldChars - MARK.length)}${MARK}`;
  } catch {
    return Array.isArray(v) ? '[nested array]' : '[nested object]'; // too deep to print
  }
}

/** A bad value for an error message: short, never a throw. */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}
