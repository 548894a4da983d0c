import { valueFromText, type Expr, type Operand, type RValue, type Value } from '../lang/index.js';
import type { ExceptionDef } from '../rules/index.js';

const LIST_COMPS = new Set(['in', 'intersects', 'pmatch']);
const VALID_COMPS = new Set([
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'intersects',
  'pmatch',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'glob',
  'iglob',
  'regex',
]);
const NO_SPAN = { start: 0, end: 0 } as const;

/** A problem with an exception's shape (not its fields, which the compiler checks). */
export class ExceptionShapeError extends Error {
  constructor(
    message: string,
    readonly code: 'LOAD_ERR_VALIDATE' | 'LOAD_ERR_YAML_VALIDATE' = 'LOAD_ERR_VALIDATE',
  ) {
    super(message);
    this.name = 'ExceptionShapeError';
  }
}

/**
 * Builds the expression an exception excludes: an `or` over its value rows of
 * (`field comp value` and ...). Returns undefined when it has no values (no effect).
 * Values written with their own quotes are quoted strings; bare values may name lists.
 */
export function buildExceptionExpr(ex: ExceptionDef): Expr | undefined {
  const single = typeof ex.fields === 'string';
  const fields = ex.fields === undefined ? [] : typeof ex.fields === 'string' ? [ex.fields] : [...ex.fields];
  if (fields.length === 0)
    throw new ExceptionShapeError(
      `exception '${ex.name}' has no 'fields': list the fields it compares`,
      'LOAD_ERR_YAML_VALIDATE',
    );
  const comps =
    ex.comps === undefined
      ? fields.map(() => (single ? 'in' : '='))
      : typeof ex.comps === 'string'
        ? [ex.comps]
        : [...ex.comps];
  if (comps.length !== fields.length)
    throw new ExceptionShapeError(
      `exception '${ex.name}': fields and comps lists must have the same length (${fields.length} fields, ${comps.length} comps)`,
    );
  for (const c of comps)
    if (!VALID_COMPS.has(c))
      throw new ExceptionShapeError(
        `exception '${ex.name}': '${c}' is not a comparison operator; use one of ${[...VALID_COMPS].join(', ')}`,
      );
  const rows = ex.values ?? [];
  if (rows.length === 0) return undefined;
  const ops = fields.map(operand);
  if (single) {
    const comp = comps[0];
    const vals = rows.map((r) => (Array.isArray(r) ? r.map((x) => String(x)).join(' ') : String(r)));
    if (LIST_COMPS.has(comp))
      return check(ops[0], comp, { kind: 'list', items: vals.map(valueFromText), span: NO_SPAN });
    return or(vals.map((v) => check(ops[0], comp, valueFromText(v))));
  }
  const terms: Expr[] = rows.map((row, ri) => {
    if (!Array.isArray(row))
      throw new ExceptionShapeError(
        `exception '${ex.name}': value row ${ri + 1} must be a sequence with one value per field (${fields.length})`,
      );
    if (row.length !== fields.length)
      throw new ExceptionShapeError(
        `exception '${ex.name}': value row ${ri + 1} has ${row.length} values for ${fields.length} fields`,
      );
    const checks = row.map((cell, i) => {
      const comp = comps[i];
      if (LIST_COMPS.has(comp)) {
        const items = Array.isArray(cell) ? (cell as string[]).map(valueFromText) : listCell(String(cell));
        return check(ops[i], comp, { kind: 'list', items, span: NO_SPAN });
      }
      return check(ops[i], comp, valueFromText(Array.isArray(cell) ? (cell as string[]).join(' ') : String(cell)));
    });
    return checks.length === 1 ? checks[0] : { kind: 'and', items: checks, span: NO_SPAN };
  });
  return or(terms);
}

/** A list cell written as text: `(a, b)` or `(some_list)` is split; otherwise one value. */
function listCell(text: string): Value[] {
  const t = text.trim();
  if (t.startsWith('(') && t.endsWith(')')) {
    return t
      .slice(1, -1)
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '')
      .map(valueFromText);
  }
  return [valueFromText(t)];
}

function or(items: Expr[]): Expr {
  return items.length === 1 ? items[0] : { kind: 'or', items, span: NO_SPAN };
}

function check(left: Operand, op: string, right: RValue): Expr {
  return { kind: 'check', left, op: op as Extract<Expr, { kind: 'check' }>['op'], right, span: NO_SPAN };
}

function operand(field: string): Operand {
  const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(field.trim());
  if (!m) throw new ExceptionShapeError(`'${field}' is not a field name`);
  return m[2] === undefined
    ? { kind: 'field', name: m[1], span: NO_SPAN }
    : { kind: 'field', name: m[1], arg: m[2], span: NO_SPAN };
}
