import { Buffer } from 'node:buffer';
import {
  FieldKeyTable,
  MAX_ANCESTOR_LEVEL,
  fieldKey,
  type FieldType,
  type FieldValue,
  type SyscallEvent,
} from '../event/index.js';
import type { Operand } from './ast.js';
import { ConditionError } from './condition-error.js';

/** Thrown for a field the catalog does not know; `skip-if-unknown-filter` turns it into a skip. */
export class UnknownFieldError extends ConditionError {
  constructor(
    readonly field: string,
    message: string,
    start: number,
    end: number,
  ) {
    super('LOAD_ERR_COMPILE_CONDITION', message, start, end);
    this.name = 'UnknownFieldError';
  }
}

/**
 * A compiled operand. `single` reads one value (undefined = missing); `multi` reads several
 * (any ancestor, client-or-server address) and a comparison holds when it holds for any.
 */
export type CompiledOperand =
  | {
      readonly kind: 'single';
      readonly type: FieldType;
      readonly read: (e: SyscallEvent) => FieldValue | undefined;
      readonly slot: number;
      readonly key: string;
    }
  | {
      readonly kind: 'multi';
      readonly type: FieldType;
      readonly read: (e: SyscallEvent) => FieldValue[];
      readonly key: string;
      readonly quant?: 'any' | 'all' | 'one';
    };

const EITHER: Readonly<Record<string, readonly string[]>> = {
  'fd.ip': ['fd.cip', 'fd.sip'],
  'fd.port': ['fd.cport', 'fd.sport'],
  'fd.net': ['fd.cnet', 'fd.snet'],
  'fd.proto': ['fd.cproto', 'fd.sproto'],
};

/** Compiles an operand against the catalog; throws {@link ConditionError} on a bad field. */
export function compileOperand(o: Operand, table: FieldKeyTable): CompiledOperand {
  if (o.kind === 'transform') return compileTransform(o.fn, compileOperand(o.operand, table), o.span.start, o.span.end);
  const { catalog } = table;
  const resolved = catalog.resolve(o.name, o.arg);
  const { start, end } = o.span;
  if (!resolved) {
    const hint = catalog.suggest(o.name);
    throw new UnknownFieldError(
      o.name,
      `unknown field '${o.name}'${hint.length ? `; did you mean ${hint.map((h) => `'${h}'`).join(' or ')}?` : ''} (see \`peregrine fields\` for the catalog)`,
      start,
      end,
    );
  }
  const { def, ref } = resolved;
  const written = o.arg === undefined ? o.name : `${o.name}[${o.arg}]`;
  if (ref.arg !== undefined && def.arg === 'none') {
    throw new ConditionError(
      'LOAD_ERR_COMPILE_CONDITION',
      `field '${def.name}' takes no argument, got '${written}'`,
      start,
      end,
    );
  }
  if (ref.arg === undefined && (def.arg === 'index' || def.arg === 'key')) {
    throw new ConditionError(
      'LOAD_ERR_COMPILE_CONDITION',
      `field '${def.name}' needs an argument, such as ${def.name}[${def.arg === 'index' ? '1' : 'KEY'}]`,
      start,
      end,
    );
  }
  if (def.arg === 'index-or-any' && ref.arg !== undefined) {
    const n = Number(ref.arg);
    if (!/^\d+$/.test(ref.arg) || n > MAX_ANCESTOR_LEVEL) {
      throw new ConditionError(
        'LOAD_ERR_COMPILE_CONDITION',
        `field '${def.name}' takes an ancestor level 0..${MAX_ANCESTOR_LEVEL}, got '${ref.arg}'`,
        start,
        end,
      );
    }
  }
  const key = fieldKey(ref);
  if (def.arg === 'index-or-any' && ref.arg === undefined) {
    const slots: number[] = [];
    for (let i = 1; i <= MAX_ANCESTOR_LEVEL; i++) slots.push(table.intern(`${def.name}[${i}]`));
    // Hot path: ancestors are stored contiguously from level 1; stop at the first missing one.
    const read = (e: SyscallEvent): FieldValue[] => {
      const out: FieldValue[] = [];
      for (const s of slots) {
        const v = e.values[s];
        if (v === undefined) break;
        out.push(v);
      }
      return out;
    };
    return { kind: 'multi', type: def.type, read, key };
  }
  const either = EITHER[key];
  if (either) {
    const own = table.intern(key);
    const parts = either.map((k) => table.intern(k));
    const read = (e: SyscallEvent): FieldValue[] => {
      const direct = e.values[own];
      if (direct !== undefined) return [direct];
      const out: FieldValue[] = [];
      for (const s of parts) {
        const v = e.values[s];
        if (v !== undefined) out.push(v);
      }
      return out;
    };
    return { kind: 'multi', type: def.type, read, key };
  }
  const slot = table.intern(key);
  if (slot < 0) return { kind: 'single', type: def.type, read: (e) => e.overflow?.get(key), slot, key };
  return { kind: 'single', type: def.type, read: (e) => e.values[slot], slot, key };
}

function compileTransform(fn: string, inner: CompiledOperand, start: number, end: number): CompiledOperand {
  const key = `${fn}(${inner.key})`;
  if (fn === 'anyof' || fn === 'allof' || fn === 'oneof') {
    const quant = fn === 'anyof' ? 'any' : fn === 'allof' ? 'all' : 'one';
    if (inner.kind === 'multi') return { ...inner, key, quant };
    const rd = inner.read;
    const read = (e: SyscallEvent): FieldValue[] => {
      const v = rd(e);
      return v === undefined ? [] : Array.isArray(v) ? [...(v as string[])] : [v];
    };
    return { kind: 'multi', type: inner.type === 'list' ? 'string' : inner.type, read, key, quant };
  }
  if (fn === 'len') {
    const len = (v: FieldValue): number =>
      Array.isArray(v) ? v.length : typeof v === 'string' ? v.length : String(v).length;
    if (inner.kind === 'multi')
      return { kind: 'single', type: 'number', read: (e) => inner.read(e).length, slot: -1, key };
    return {
      kind: 'single',
      type: 'number',
      read: (e) => {
        const v = inner.read(e);
        return v === undefined ? undefined : len(v);
      },
      slot: -1,
      key,
    };
  }
  if (inner.type !== 'string' && inner.type !== 'bytes' && inner.type !== 'list') {
    throw new ConditionError(
      'LOAD_ERR_COMPILE_CONDITION',
      `${fn}() applies to text fields; '${inner.key}' is ${inner.type}`,
      start,
      end,
    );
  }
  const f = stringTransform(fn);
  const apply = (v: FieldValue): FieldValue => (Array.isArray(v) ? (v as string[]).map(f) : f(String(v)));
  if (inner.kind === 'multi') return { kind: 'multi', type: 'string', read: (e) => inner.read(e).map(apply), key };
  return {
    kind: 'single',
    type: inner.type === 'list' ? 'list' : 'string',
    read: (e) => {
      const v = inner.read(e);
      return v === undefined ? undefined : apply(v);
    },
    slot: -1,
    key,
  };
}

function stringTransform(fn: string): (s: string) => string {
  switch (fn) {
    case 'tolower':
      return (s) => s.toLowerCase();
    case 'toupper':
      return (s) => s.toUpperCase();
    case 'b64':
      return (s) => Buffer.from(s, 'base64').toString('utf8');
    case 'basename':
      return (s) => (s.endsWith('/') ? '' : s.slice(s.lastIndexOf('/') + 1));
    default:
      throw new Error(`unknown transformer ${fn}`);
  }
}
