import type { Expr, Operand, RValue, Value } from './ast.js';

/**
 * Prints an AST back as a condition that parses to the same tree (modulo spans):
 * and/or/not fully parenthesised, values quoted when they are not plain bare words.
 */
export function printCondition(e: Expr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return `(${e.items.map(printCondition).join(` ${e.kind} `)})`;
    case 'not':
      return `not ${printCondition(e.expr)}`;
    case 'macro':
      return e.name;
    case 'check':
      return e.right ? `${printOperand(e.left)} ${e.op} ${printRValue(e.right)}` : `${printOperand(e.left)} ${e.op}`;
  }
}

export function printOperand(o: Operand): string {
  if (o.kind === 'transform') return `${o.fn}(${printOperand(o.operand)})`;
  return o.arg === undefined ? o.name : `${o.name}[${o.arg}]`;
}

function printRValue(v: RValue): string {
  if (v.kind === 'list') return `(${v.items.map(printValue).join(', ')})`;
  if (v.kind === 'operand')
    return v.operand.kind === 'field' ? `val(${printOperand(v.operand)})` : printOperand(v.operand);
  return printValue(v);
}

/** Prints a constant: bare values as written, quoted ones double-quoted with escapes. */
export function printValue(v: Value): string {
  if (!v.quoted) return v.text;
  return `"${v.text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
