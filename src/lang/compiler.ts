import { KNOWN_EVENT_TYPES, type SyscallEvent, type FieldKeyTable } from '../event/index.js';
import type { Expr, RValue, Value } from './ast.js';
import { ConditionError } from './condition-error.js';
import type { LoadCode } from './diagnostic.js';
import { UNKNOWN_TYPES, andInfo, complement, exactly, notInfo, orInfo, type TypeInfo } from './type-set.js';
import { compileOperand } from './operand.js';
import { compareValues, compileValueMatcher } from './value-matcher.js';

/** A compiled condition. Pure; never throws on any event. */
export type Predicate = (e: SyscallEvent) => boolean;

/** A compiled condition with what it says about event types. */
export interface Compiled {
  readonly pred: Predicate;
  readonly types: TypeInfo;
  /**
   * Nodes of the condition with every macro expanded in place (saturates at
   * {@link MAX_EXPANDED_SIZE}): what evaluation would cost if no macro result were reused.
   */
  readonly size: number;
}

/** Where expanded sizes stop counting (far beyond any real ruleset; exact enough for messages). */
export const MAX_EXPANDED_SIZE = 1e15;
/**
 * Macros that expand to more nodes than this are evaluated at most once per event (their
 * result is remembered for the event): with that, evaluation costs at most this many checks
 * per macro and rule, linear in the rule text, however macros nest (a macro used twice by the
 * next one, 34 levels deep, would otherwise cost 2^34 checks per event). Small macros stay
 * inline: remembering costs more than re-running a few checks.
 */
export const MACRO_MEMO_THRESHOLD = 32;

/** Adds expanded sizes, saturating. */
export function addSizes(...sizes: number[]): number {
  let n = 0;
  for (const x of sizes) n += x;
  return Math.min(n, MAX_EXPANDED_SIZE);
}

/**
 * A macro as rules and macros reference it: large ones (see {@link MACRO_MEMO_THRESHOLD})
 * remember their result for the last event they saw. Events are immutable once decoded, so
 * the same event object always gives the same result.
 */
export function macroReference(c: Compiled): Compiled {
  if (c.size <= MACRO_MEMO_THRESHOLD) return c;
  const p = c.pred;
  let last: SyscallEvent | undefined;
  let result = false;
  // Hot path: one identity compare per reference; the macro body runs once per event.
  const pred: Predicate = (e) => {
    if (e !== last) {
      result = p(e);
      last = e;
    }
    return result;
  };
  return { pred, types: c.types, size: c.size };
}

/** Thrown when a condition uses a macro that failed to compile (its error is reported there). */
export class MacroFailedError extends ConditionError {
  /**
   * @param macro the macro referenced where this error is thrown
   * @param inner the original error
   * @param origin the macro whose text `inner`'s offsets refer to
   * @param deferred true when the error is reported at the rule that uses the macro (field and
   *   value errors, as Falco does); false when it was already reported at the macro
   */
  constructor(
    readonly macro: string,
    readonly inner: ConditionError,
    start: number,
    end: number,
    readonly origin: string = macro,
    readonly deferred: boolean = false,
  ) {
    super('LOAD_ERR_COMPILE_CONDITION', `macro '${macro}' has errors: ${inner.message}`, start, end);
    this.name = 'MacroFailedError';
  }
}

/** What the compiler needs from its surroundings: fields, lists and macros by name. */
export interface CompileScope {
  readonly table: FieldKeyTable;
  /** Items of a list (nested lists already spliced), or undefined when no such list. */
  list(name: string): readonly Value[] | undefined;
  /** The compiled macro; throws {@link ConditionError} when it is undefined or broken. */
  macro(name: string, start: number, end: number): Compiled;
  /** Reports a non-fatal finding (Falco's warnings) at an offset of this condition. */
  warn(code: LoadCode, message: string, start: number, end: number): void;
}

/**
 * Compiles a parsed condition to a predicate, once. Macros are referenced as their compiled
 * predicates (shared, not re-compiled per rule); lists are spliced into value lists.
 */
export function compileExpr(e: Expr, scope: CompileScope): Compiled {
  switch (e.kind) {
    case 'and':
    case 'or': {
      const parts = e.items.map((x) => compileExpr(x, scope));
      const preds = parts.map((p) => p.pred);
      const types = e.kind === 'and' ? andInfo(parts.map((p) => p.types)) : orInfo(parts.map((p) => p.types));
      return {
        pred: e.kind === 'and' ? all(preds) : any(preds),
        types,
        size: addSizes(1, ...parts.map((p) => p.size)),
      };
    }
    case 'not': {
      const inner = compileExpr(e.expr, scope);
      const p = inner.pred;
      return { pred: (ev) => !p(ev), types: notInfo(inner.types), size: addSizes(1, inner.size) };
    }
    case 'macro':
      return scope.macro(e.name, e.span.start, e.span.end);
    case 'check':
      return { ...compileCheck(e, scope), size: 1 };
  }
}

// Hot path: small fixed arities avoid a loop and an array read per call.
function all(p: Predicate[]): Predicate {
  if (p.length === 2) {
    const [a, b] = p;
    return (e) => a(e) && b(e);
  }
  if (p.length === 3) {
    const [a, b, c] = p;
    return (e) => a(e) && b(e) && c(e);
  }
  return (e) => {
    for (let i = 0; i < p.length; i++) if (!p[i](e)) return false;
    return true;
  };
}

function any(p: Predicate[]): Predicate {
  if (p.length === 2) {
    const [a, b] = p;
    return (e) => a(e) || b(e);
  }
  if (p.length === 3) {
    const [a, b, c] = p;
    return (e) => a(e) || b(e) || c(e);
  }
  return (e) => {
    for (let i = 0; i < p.length; i++) if (p[i](e)) return true;
    return false;
  };
}

/** Splices list references (bare items naming a list) into the values. */
function expandValues(values: readonly Value[], scope: CompileScope): Value[] {
  const out: Value[] = [];
  for (const v of values) {
    const items = v.quoted ? undefined : scope.list(v.text);
    if (items) for (const it of items) out.push({ ...it, span: v.span });
    else out.push(v);
  }
  return out;
}

function compileCheck(c: Extract<Expr, { kind: 'check' }>, scope: CompileScope): Omit<Compiled, 'size'> {
  const left = compileOperand(c.left, scope.table);
  let op = c.op;
  const right: RValue | undefined = c.right;

  if (op === 'exists') {
    const read = left.read;
    const pred: Predicate = left.kind === 'multi' ? (e) => left.read(e).length > 0 : (e) => read(e) !== undefined;
    return { pred, types: UNKNOWN_TYPES };
  }
  if (!right)
    throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', `operator '${op}' needs a value`, c.span.start, c.span.end);

  if (right.kind === 'operand') {
    const other = compileOperand(right.operand, scope.table);
    if (other.kind === 'multi')
      throw new ConditionError(
        'LOAD_ERR_COMPILE_CONDITION',
        `the right side of '${op}' must be a single field, got '${other.key}'`,
        right.span.start,
        right.span.end,
      );
    const rd = other.read;
    const o = op;
    const pred: Predicate =
      left.kind === 'multi'
        ? (e) => {
            const b = rd(e);
            return b !== undefined && left.read(e).some((a) => compareValues(o, a, b));
          }
        : (e) => {
            const a = left.read(e);
            const b = rd(e);
            return a !== undefined && b !== undefined && compareValues(o, a, b);
          };
    return { pred, types: UNKNOWN_TYPES };
  }

  let values: Value[];
  if (right.kind === 'list') values = expandValues(right.items, scope);
  else {
    values = expandValues([right], scope);
    if (values.length !== 1) {
      // `proc.name = some_list` with a list of several items: Falco splices the list.
      if (op === '=' || op === '==') op = 'in';
      else if (op === '!=') return negate(compileCheck({ ...c, op: 'in' }, scope));
      else
        throw new ConditionError(
          'LOAD_ERR_COMPILE_CONDITION',
          `'${right.text}' is a list of ${values.length} items; operator '${op}' takes one value (use 'in (${right.text})')`,
          right.span.start,
          right.span.end,
        );
    }
    if (values[0].text === '<NA>' && (op === '=' || op === '==' || op === '!=')) {
      scope.warn(
        'LOAD_UNSAFE_NA_CHECK',
        `comparing '${left.key}' with <NA> is unsafe: a missing field never compares equal; use '${op === '!=' ? '' : 'not '}${left.key} exists' instead`,
        right.span.start,
        right.span.end,
      );
    }
  }
  if (left.key === 'evt.type' && c.left.kind === 'field') {
    for (const v of values) {
      if (!KNOWN_EVENT_TYPES.has(v.text))
        throw new ConditionError(
          'LOAD_ERR_COMPILE_CONDITION',
          `unknown event type ${v.text}`,
          v.span.start,
          v.span.end,
        );
    }
  }
  const test = compileValueMatcher(op, left.type, values, left.key, c);
  const types = evtTypeInfo(left.key, c.left.kind === 'field', op, values);

  if (left.kind === 'multi') {
    const read = left.read;
    if (left.quant === 'all')
      return {
        pred: (e) => {
          const vs = read(e);
          return vs.length > 0 && vs.every(test);
        },
        types,
      };
    if (left.quant === 'one')
      return {
        pred: (e) => {
          let n = 0;
          for (const v of read(e)) if (test(v) && ++n > 1) return false;
          return n === 1;
        },
        types,
      };
    return { pred: (e) => read(e).some(test), types };
  }
  if (left.type === 'list') {
    const read = left.read;
    const every = op === 'in';
    return {
      pred: (e) => {
        const v = read(e);
        if (v === undefined) return false;
        if (!Array.isArray(v)) return test(v);
        return every ? v.length > 0 && v.every(test) : v.some(test);
      },
      types,
    };
  }
  const slot = left.slot;
  if (slot >= 0) {
    // Hot path: read the slot directly; string equality is a single compare.
    if ((op === '=' || op === '==') && (left.type === 'string' || left.type === 'number')) {
      const k = test; // typed constant lives inside test; re-derive for the direct compare
      const sample = values[0].text;
      if (left.type === 'string') return { pred: (e) => e.values[slot] === sample, types };
      return {
        pred: (e) => {
          const x = e.values[slot];
          return x !== undefined && k(x);
        },
        types,
      };
    }
    return {
      pred: (e) => {
        const x = e.values[slot];
        return x !== undefined && test(x);
      },
      types,
    };
  }
  const read = left.read;
  return {
    pred: (e) => {
      const x = read(e);
      return x !== undefined && test(x);
    },
    types,
  };
}

function negate(c: Omit<Compiled, 'size'>): Omit<Compiled, 'size'> {
  const p = c.pred;
  return { pred: (e) => !p(e), types: notInfo(c.types) };
}

function evtTypeInfo(key: string, plainField: boolean, op: string, values: readonly Value[]): TypeInfo {
  if (key !== 'evt.type' || !plainField) return UNKNOWN_TYPES;
  if (op === '=' || op === '==' || op === 'in') {
    const s = exactly(values.map((v) => v.text));
    return { t: s, f: complement(s) };
  }
  if (op === '!=') {
    const s = exactly(values.map((v) => v.text));
    return { t: complement(s), f: s };
  }
  return UNKNOWN_TYPES;
}
