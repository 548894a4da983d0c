import type { FieldType, FieldValue } from './field-value.js';
import type { FieldKeyTable } from './field-key-table.js';
import { FieldDeriver } from './derive-fields.js';
import { SyscallEvent } from './syscall-event.js';

/** A replay line that is not an event. Carries the line number. */
export class EventDecodeError extends Error {
  constructor(
    readonly line: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`line ${line}: ${message}`, options);
    this.name = 'EventDecodeError';
  }
}

const TIME_RE = /"(evt\.(?:raw)?time(?:\.iso8601)?)"\s*:\s*(\d{16,})/g;
const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Decodes flat events (Falco field name → value, as Falco prints `output_fields` and as
 * `sysdig -j -p` prints fields) into {@link SyscallEvent}s. Values are normalised to the
 * catalog's types; fields libsinsp derives are filled in when absent.
 */
export class FlatEventDecoder {
  private readonly deriver: FieldDeriver;

  constructor(private readonly table: FieldKeyTable) {
    this.deriver = new FieldDeriver(table);
  }

  /** Decodes one JSON Lines line; throws {@link EventDecodeError} on a bad line. */
  decodeLine(line: string, lineNo: number): SyscallEvent {
    if (line.length > MAX_LINE_BYTES) throw new EventDecodeError(lineNo, `line longer than ${MAX_LINE_BYTES} bytes`);
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new EventDecodeError(lineNo, `not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new EventDecodeError(lineNo, 'expected a JSON object of field names to values');
    }
    // Timestamps above 2^53 lose precision in JSON.parse: take their digits from the text.
    const rec = obj as Record<string, unknown>;
    if (line.includes('time"')) {
      for (const m of line.matchAll(TIME_RE)) rec[m[1]] = BigInt(m[2]);
    }
    return this.decodeObject(rec, lineNo);
  }

  /**
   * Writes one field into slots `v`, normalised to its catalog type; returns false (and writes
   * nothing) for null/absent values. For decoders that build events field by field.
   */
  setField(v: Array<FieldValue | undefined>, key: string, raw: unknown, lineNo: number): boolean {
    if (raw === null || raw === undefined) return false;
    const id = this.table.intern(key);
    if (id < 0) return false;
    const n = normalise(raw, this.table.typeAt(id), key, lineNo);
    if (n === undefined) return false;
    v[id] = n;
    return true;
  }

  /** Fresh slots sized for the fields known so far. */
  newSlots(): Array<FieldValue | undefined> {
    return new Array(this.table.size);
  }

  /** Derives what libsinsp derives and wraps the slots as an event. */
  complete(v: Array<FieldValue | undefined>, lineNo: number): SyscallEvent {
    if (v[0] === undefined) throw new EventDecodeError(lineNo, 'missing "evt.type"');
    this.deriver.derive(v, lineNo);
    return new SyscallEvent(v);
  }

  /** Decodes an already-parsed flat object. */
  decodeObject(obj: Readonly<Record<string, unknown>>, lineNo: number): SyscallEvent {
    const values: Array<FieldValue | undefined> = new Array(this.table.size);
    let overflow: Map<string, FieldValue> | undefined;
    for (const key in obj) {
      const raw = obj[key];
      if (raw === null || raw === undefined) continue;
      const id = this.table.intern(key);
      const type = id >= 0 ? this.table.typeAt(id) : this.table.typeOfKey(key);
      const v = normalise(raw, type, key, lineNo);
      if (v === undefined) continue;
      if (id >= 0) values[id] = v;
      else (overflow ??= new Map()).set(key, v);
    }
    if (values[0] === undefined) throw new EventDecodeError(lineNo, 'missing "evt.type"');
    this.deriver.derive(values, lineNo);
    return new SyscallEvent(values, overflow);
  }
}

function normalise(raw: unknown, type: FieldType, key: string, lineNo: number): FieldValue | undefined {
  switch (type) {
    case 'number':
    case 'port':
    case 'reltime': {
      if (typeof raw === 'number') return raw;
      if (typeof raw === 'bigint') return Number(raw);
      if (typeof raw === 'string') {
        if (raw === '' || raw === '<NA>') return undefined;
        const n = Number(raw);
        if (Number.isFinite(n)) return n;
      }
      if (typeof raw === 'boolean') return raw ? 1 : 0;
      throw new EventDecodeError(lineNo, `field "${key}" must be a number, got ${JSON.stringify(raw)}`);
    }
    case 'abstime':
      if (typeof raw === 'bigint') return raw;
      if (typeof raw === 'number' && Number.isFinite(raw)) return BigInt(Math.trunc(raw));
      if (typeof raw === 'string' && /^\d+$/.test(raw)) return BigInt(raw);
      if (typeof raw === 'string') {
        const ms = Date.parse(raw);
        if (!Number.isNaN(ms)) return BigInt(ms) * 1_000_000n;
      }
      throw new EventDecodeError(lineNo, `field "${key}" must be a time in ns or ISO 8601, got ${JSON.stringify(raw)}`);
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 1 || raw === '1') return true;
      if (raw === 'false' || raw === 0 || raw === '0') return false;
      if (raw === '<NA>') return undefined;
      throw new EventDecodeError(lineNo, `field "${key}" must be true or false, got ${JSON.stringify(raw)}`);
    case 'list':
      if (Array.isArray(raw)) return raw.map((x) => String(x));
      if (typeof raw === 'string') return raw === '' ? [] : raw.split(',');
      return [String(raw)];
    default:
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') return String(raw);
      if (Array.isArray(raw)) return raw.map((x) => String(x)).join(',');
      throw new EventDecodeError(lineNo, `field "${key}" must be a string, got an object`);
  }
}
