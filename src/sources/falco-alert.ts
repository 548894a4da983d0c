import { parsePriority, type Alert, type AlertFieldValue } from '../event/index.js';

/** A Falco alert document that is not acceptable; says which key and why. */
export class AlertFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertFormatError';
  }
}

/**
 * Validates and normalises Falco's JSON alert (`time`, `rule`, `priority`, `output`,
 * `output_fields`, `hostname`, `tags`, `source`), the document of Falco's http_output and
 * Falcosidekick's input, into an {@link Alert}.
 */
export function alertFromFalcoJson(doc: unknown): Alert {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new AlertFormatError('expected a JSON object (one Falco alert)');
  const d = doc as Record<string, unknown>;
  if (typeof d.rule !== 'string' || d.rule === '') throw new AlertFormatError('"rule" must be a non-empty string');
  const priority = typeof d.priority === 'string' ? parsePriority(d.priority) : undefined;
  if (!priority) throw new AlertFormatError(`"priority" must be a Falco priority (Emergency … Debug), got ${JSON.stringify(d.priority)}`);
  const time = typeof d.time === 'string' && !Number.isNaN(Date.parse(d.time)) ? d.time : undefined;
  if (d.time !== undefined && !time) throw new AlertFormatError(`"time" must be an RFC 3339 time, got ${JSON.stringify(d.time)}`);
  const fields: Record<string, AlertFieldValue> = {};
  if (d.output_fields !== undefined) {
    if (!d.output_fields || typeof d.output_fields !== 'object' || Array.isArray(d.output_fields)) throw new AlertFormatError('"output_fields" must be an object');
    for (const [k, v] of Object.entries(d.output_fields as Record<string, unknown>)) {
      fields[k] = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : Array.isArray(v) ? v.map(String) : JSON.stringify(v);
    }
  }
  const tags = Array.isArray(d.tags) ? d.tags.map(String) : [];
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
