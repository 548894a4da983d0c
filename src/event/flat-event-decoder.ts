import type { FieldType, FieldValue } from './field-value.js';
import type { FieldKeyTable } from './field-key-table.js';
import { FieldDeriver } from './derive-fields.js';
import { SyscallEvent } from './syscall-event.js';
import { errorMessage } from './error-message.js';

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

/**
 * A key and an integer of 16 or more digits: JSON.parse rounds those to doubles, so their exact
 * value is taken from the text (a key cannot contain an unescaped quote or a backslash, and in
 * valid JSON only a key is followed by a colon).
 */
const BIG_INT_RE = /"([^"\\]{1,256})"\s*:\s*(-?\d{16,40})(?=\s*[,}])/g;
/** Longest line accepted (bytes); readers drop longer ones before buffering them whole. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;
/** Latest absolute time accepted: the end of year 9999, in ns (later ones cannot be printed). */
const MAX_ABSTIME_NS = 253_402_300_799_999_999_999n;

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
      throw new EventDecodeError(lineNo, `not valid JSON (${errorMessage(err)})`, { cause: err });
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new EventDecodeError(lineNo, 'expected a JSON object of field names to values');
    }
    // Integers above 2^53 (timestamps, inodes, masks) lose precision in JSON.parse: take
    // their digits from the text.
    const rec = obj as Record<string, unknown>;
    if (/\d{16}/.test(line)) {
      for (const m of line.matchAll(BIG_INT_RE)) if (typeof rec[m[1]] === 'number') rec[m[1]] = BigInt(m[2]);
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
    return new Array<FieldValue | undefined>(this.table.size);
  }

  /** Derives what libsinsp derives and wraps the slots as an event. */
  complete(v: Array<FieldValue | undefined>, lineNo: number): SyscallEvent {
    if (v[0] === undefined) throw new EventDecodeError(lineNo, 'missing "evt.type"');
    this.deriver.derive(v, lineNo);
    return new SyscallEvent(v);
  }

  /** Decodes an already-parsed flat object. */
  decodeObject(obj: Readonly<Record<string, unknown>>, lineNo: number): SyscallEvent {
    const values = new Array<FieldValue | undefined>(this.table.size);
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
      // 64-bit integers stay exact: a bigint beyond 2^53 stays a bigint (compared exactly)
      if (typeof raw === 'number') {
        if (Number.isFinite(raw)) return raw;
        throw new EventDecodeError(lineNo, `field "${key}" is out of range, got ${shown(raw)}`);
      }
      if (typeof raw === 'bigint') return exactInteger(raw, key, lineNo);
      if (typeof raw === 'string') {
        if (raw === '' || raw === '<NA>') return undefined;
        if (/^-?\d{16,40}$/.test(raw)) return exactInteger(BigInt(raw), key, lineNo);
        const n = Number(raw);
        if (Number.isFinite(n)) return n;
      }
      if (typeof raw === 'boolean') return raw ? 1 : 0;
      throw new EventDecodeError(lineNo, `field "${key}" must be a number, got ${shown(raw)}`);
    }
    case 'abstime': {
      let t: bigint | undefined;
      if (typeof raw === 'bigint') t = raw;
      else if (typeof raw === 'number' && Number.isFinite(raw)) t = BigInt(Math.trunc(raw));
      else if (typeof raw === 'string' && /^\d{1,40}$/.test(raw)) t = BigInt(raw);
      else if (typeof raw === 'string') {
        const ms = Date.parse(raw);
        if (!Number.isNaN(ms)) t = BigInt(ms) * 1_000_000n;
      }
      if (t === undefined)
        throw new EventDecodeError(lineNo, `field "${key}" must be a time in ns or ISO 8601, got ${shown(raw)}`);
      if (t < 0n || t > MAX_ABSTIME_NS)
        throw new EventDecodeError(lineNo, `field "${key}" is out of range (0 to year 9999 in ns), got ${String(raw)}`);
      return t;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 1 || raw === '1') return true;
      if (raw === 'false' || raw === 0 || raw === '0') return false;
      if (raw === '<NA>') return undefined;
      throw new EventDecodeError(lineNo, `field "${key}" must be true or false, got ${shown(raw)}`);
    case 'list':
      if (Array.isArray(raw)) return scalars(raw, key, lineNo);
      if (typeof raw === 'string') return raw === '' ? [] : raw.split(',');
      return [String(raw)];
    default:
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') return String(raw);
      if (Array.isArray(raw)) return scalars(raw, key, lineNo).join(',');
      throw new EventDecodeError(lineNo, `field "${key}" must be a string, got an object`);
  }
}

/** The items of a JSON array as strings; nested arrays and objects are refused (not flattened). */
function scalars(raw: readonly unknown[], key: string, lineNo: number): string[] {
  const out: string[] = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i];
    if (x !== null && typeof x === 'object')
      throw new EventDecodeError(
        lineNo,
        `field "${key}" must be a string or a list of strings, got a nested ${Array.isArray(x) ? 'array' : 'object'}`,
      );
    out[i] = String(x);
  }
  return out;
}

/** A bad value for an error message: short, and never a throw (bigints, deep or huge values). */
function shown(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);
  if (Array.isArray(raw)) return 'an array';
  if (raw !== null && typeof raw === 'object') return 'an object';
  return String(raw);
}

/** A 64-bit integer: a number when exactly representable, else the bigint; beyond 64 bits, an error. */
function exactInteger(v: bigint, key: string, lineNo: number): number | bigint {
  if (v < -(2n ** 63n) || v >= 2n ** 64n)
    throw new EventDecodeError(lineNo, `field "${key}" is out of the 64-bit range, got ${v}`);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
