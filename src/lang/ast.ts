/** Offsets into the condition text, [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export const UNARY_OPS = ['exists'] as const;
export const LIST_OPS = ['in', 'intersects', 'pmatch'] as const;
/** Every operator of Falco's current grammar. */
export const BINARY_OPS = [
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'glob',
  'iglob',
  'regex',
] as const;
export type Operator = (typeof UNARY_OPS)[number] | (typeof LIST_OPS)[number] | (typeof BINARY_OPS)[number];

export const TRANSFORMERS = ['tolower', 'toupper', 'b64', 'basename', 'len'] as const;
/**
 * Quantifiers over multi-valued fields (any ancestor, list fields): `anyof(proc.aname) = sshd`
 * holds when at least one value matches (the default), `allof(...)` when every value does,
 * `oneof(...)` when exactly one does. Written like transformers; Peregrine's extension.
 */
export const QUANTIFIERS = ['anyof', 'allof', 'oneof'] as const;
export type Transformer = (typeof TRANSFORMERS)[number] | (typeof QUANTIFIERS)[number];

/** A field read from the event, optionally transformed: `proc.name`, `tolower(proc.aname[2])`. */
export type Operand =
  | { readonly kind: 'field'; readonly name: string; readonly arg?: string; readonly span: Span }
  | { readonly kind: 'transform'; readonly fn: Transformer; readonly operand: Operand; readonly span: Span };

/** A constant: bare (`runc:[0:PARENT]`, `1024`) or quoted (`"a b"`), already unescaped. */
export interface Value {
  readonly kind: 'value';
  readonly text: string;
  readonly quoted: boolean;
  readonly span: Span;
}

/** The right side of a comparison. `list` items that are bare may name YAML lists. */
export type RValue =
  | Value
  | { readonly kind: 'list'; readonly items: readonly Value[]; readonly span: Span }
  | { readonly kind: 'operand'; readonly operand: Operand; readonly span: Span }; // val(field), transformer

/** A condition expression. */
export type Expr =
  | { readonly kind: 'and'; readonly items: readonly Expr[]; readonly span: Span }
  | { readonly kind: 'or'; readonly items: readonly Expr[]; readonly span: Span }
  | { readonly kind: 'not'; readonly expr: Expr; readonly span: Span }
  | { readonly kind: 'macro'; readonly name: string; readonly span: Span }
  | {
      readonly kind: 'check';
      readonly left: Operand;
      readonly op: Operator;
      readonly right?: RValue;
      readonly span: Span;
    };

/** Calls `fn` on every node of the tree, parents first. */
export function walk(e: Expr, fn: (e: Expr) => void): void {
  fn(e);
  if (e.kind === 'and' || e.kind === 'or') for (const c of e.items) walk(c, fn);
  else if (e.kind === 'not') walk(e.expr, fn);
}

/** The innermost field of an operand. */
export function operandField(o: Operand): Extract<Operand, { kind: 'field' }> {
  return o.kind === 'field' ? o : operandField(o.operand);
}
