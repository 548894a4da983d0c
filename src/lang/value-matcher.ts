import { Buffer } from 'node:buffer';
import type { FieldType, FieldValue } from '../event/index.js';
import type { Operator, Value } from './ast.js';
import { ConditionError } from './condition-error.js';
import { netContains, parseIpNet, type IpNet } from './ip-net.js';
import { compileGlob, compilePathPrefixes, compileRegex } from './linear-regex.js';

/** A test of one present value against the constants of a comparison. */
export type ValueMatcher = (x: FieldValue) => boolean;

const NUMERIC: ReadonlySet<FieldType> = new Set(['number', 'port', 'reltime', 'abstime']);
const TEXT_OPS: ReadonlySet<Operator> = new Set([
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'glob',
  'iglob',
  'regex',
  'pmatch',
]);

function fail(msg: string, v: { span: { start: number; end: number } }): never {
  throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', msg, v.span.start, v.span.end);
}

/** Parses a constant to the field's type at compile time (numbers, booleans, networks). */
function constant(type: FieldType, v: Value, field: string): number | bigint | boolean | string {
  if (NUMERIC.has(type)) {
    const t = v.text.trim();
    // an integer beyond 2^53 stays exact as a bigint, as events carry such values (64-bit ids, masks)
    if (/^-?\d{16,40}$/.test(t) && type !== 'abstime') {
      const b = BigInt(t);
      if (b < BigInt(Number.MIN_SAFE_INTEGER) || b > BigInt(Number.MAX_SAFE_INTEGER)) return b;
    }
    const n = /^[+-]?0[xX][0-9a-fA-F]+$/.test(t)
      ? parseInt(t, 16)
      : /^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t)
        ? Number(t)
        : NaN;
    if (Number.isNaN(n)) fail(`'${field}' is numeric: expected a number, got '${v.text}'`, v);
    return type === 'abstime' ? BigInt(Math.trunc(n)) : n;
  }
  if (type === 'bool') {
    if (v.text === 'true') return true;
    if (v.text === 'false') return false;
    fail(`'${field}' is a boolean: expected true or false, got '${v.text}'`, v);
  }
  return v.text;
}

/**
 * Builds the test for `op` on a field of `type` against constant `values` (one for binary
 * operators, the list for `in`/`intersects`/`pmatch`, possibly empty). Everything is parsed
 * here, once. Errors point at the first value, or at `at` (the whole check) when there is none.
 */
export function compileValueMatcher(
  op: Operator,
  type: FieldType,
  values: readonly Value[],
  field: string,
  at: { readonly span: { start: number; end: number } } = { span: { start: 0, end: 0 } },
): ValueMatcher {
  const first: { readonly span: { start: number; end: number } } = values[0] ?? at;
  if (NUMERIC.has(type) || type === 'bool') {
    if (TEXT_OPS.has(op))
      fail(`operator '${op}' does not apply to ${type} field '${field}'; use =, !=, <, <=, >, >= or in`, first);
  }
  if (
    (type === 'ip' || type === 'ipnet') &&
    TEXT_OPS.has(op) &&
    op !== 'contains' &&
    op !== 'startswith' &&
    op !== 'endswith'
  ) {
    fail(`operator '${op}' does not apply to address field '${field}'`, first);
  }
  switch (op) {
    case 'in':
    case 'intersects':
      return setMatcher(type, values, field);
    case 'pmatch': {
      const t = compilePathPrefixes(values.map((v) => v.text));
      return (x) => typeof x === 'string' && t(x);
    }
    default:
      break;
  }
  const one = values[0];
  if (!one) return fail(`operator '${op}' needs a value`, first);
  if (type === 'ip' || type === 'ipnet') return ipMatcher(op, type, one, field);
  const c = constant(type, one, field);
  switch (op) {
    case '=':
    case '==':
      return (x) => x === c;
    case '!=':
      return (x) => x !== c;
    case '<':
      return (x) => (x as number) < (c as number);
    case '<=':
      return (x) => (x as number) <= (c as number);
    case '>':
      return (x) => (x as number) > (c as number);
    case '>=':
      return (x) => (x as number) >= (c as number);
    default:
      break;
  }
  const s = String(c);
  switch (op) {
    case 'contains':
      return (x) => typeof x === 'string' && x.includes(s);
    case 'icontains': {
      const lower = s.toLowerCase();
      return (x) => typeof x === 'string' && x.toLowerCase().includes(lower);
    }
    case 'startswith':
      return (x) => typeof x === 'string' && x.startsWith(s);
    case 'endswith':
      return (x) => typeof x === 'string' && x.endsWith(s);
    case 'bcontains':
    case 'bstartswith': {
      if (!/^([0-9a-fA-F]{2})+$/.test(s)) fail(`'${op}' takes hexadecimal bytes such as 504B0304, got '${s}'`, first);
      const needle = Buffer.from(s, 'hex');
      if (op === 'bcontains') return (x) => typeof x === 'string' && Buffer.from(x, 'latin1').includes(needle);
      return (x) => typeof x === 'string' && Buffer.from(x, 'latin1').subarray(0, needle.length).equals(needle);
    }
    case 'glob':
    case 'iglob': {
      const t = compileGlob(s, op === 'iglob', first.span.start, first.span.end);
      return (x) => typeof x === 'string' && t(x);
    }
    case 'regex': {
      const t = compileRegex(s, first.span.start, first.span.end);
      return (x) => typeof x === 'string' && t(x);
    }
    default:
      return fail(`operator '${op}' needs a list of values`, first);
  }
}

function setMatcher(type: FieldType, values: readonly Value[], field: string): ValueMatcher {
  if (type === 'ip' || type === 'ipnet') {
    const nets: IpNet[] = [];
    const exact = new Set<string>();
    for (const v of values) {
      if (v.text.includes('/')) {
        const n = parseIpNet(v.text);
        if (!n) fail(`'${v.text}' is not an address or network (CIDR) for '${field}'`, v);
        nets.push(n);
      } else exact.add(v.text);
    }
    return (x) => typeof x === 'string' && (exact.has(x) || nets.some((n) => netContains(n, x)));
  }
  const set = new Set<unknown>(values.map((v) => constant(type, v, field)));
  return (x) => set.has(x);
}

function ipMatcher(op: Operator, type: FieldType, v: Value, field: string): ValueMatcher {
  if (op === 'contains') return (x) => typeof x === 'string' && x.includes(v.text);
  if (op === 'startswith') return (x) => typeof x === 'string' && x.startsWith(v.text);
  if (op === 'endswith') return (x) => typeof x === 'string' && x.endsWith(v.text);
  const net = v.text.includes('/') || type === 'ipnet' ? parseIpNet(v.text) : undefined;
  if (v.text.includes('/') && !net) fail(`'${v.text}' is not a network (CIDR) for '${field}'`, v);
  const eq: ValueMatcher = net ? (x) => typeof x === 'string' && netContains(net, x) : (x) => x === v.text;
  if (op === '=' || op === '==') return eq;
  if (op === '!=') return (x) => !eq(x);
  return fail(`operator '${op}' does not apply to address field '${field}'`, v);
}

/** Compares two present values of possibly different types (field-vs-field with val()). */
export function compareValues(op: Operator, a: FieldValue, b: FieldValue): boolean {
  // bigints stay exact: JavaScript orders bigint against number (and prints both alike)
  const x = a;
  const y = b;
  switch (op) {
    case '=':
    case '==':
      return String(x) === String(y);
    case '!=':
      return String(x) !== String(y);
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
    case 'contains':
      return String(x).includes(String(y));
    case 'icontains':
      return String(x).toLowerCase().includes(String(y).toLowerCase());
    case 'startswith':
      return String(x).startsWith(String(y));
    case 'endswith':
      return String(x).endsWith(String(y));
    default:
      return false;
  }
}
