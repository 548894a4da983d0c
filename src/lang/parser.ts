import {
  LIST_OPS,
  QUANTIFIERS,
  TRANSFORMERS,
  type Expr,
  type Operand,
  type Operator,
  type RValue,
  type Transformer,
  type Value,
} from './ast.js';
import { ConditionError } from './condition-error.js';

/** Deepest nesting of parentheses / `not` / transformers accepted; deeper input is rejected. */
export const MAX_DEPTH = 256;
/** Longest condition accepted, in characters. */
export const MAX_CONDITION_LENGTH = 1_000_000;

const IDENT = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const FIELD = /[a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)+/y;
const BARE = /[^()"'\s=,]+/y;
const WS = /\s*/y;
const WORD_CHAR = /[a-zA-Z0-9_.]/;
const SYMBOL_OPS: readonly Operator[] = ['<=', '<', '>=', '>', '==', '=', '!='];
const WORD_OPS: readonly string[] = [
  'exists',
  'glob',
  'iglob',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'regex',
  'intersects',
  'in',
  'pmatch',
];
const KEYWORDS = new Set(['and', 'or', 'not', ...WORD_OPS]);
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  '"': '"',
  "'": "'",
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses a condition in Falco's filter language into an AST with spans. Linear in the input;
 * throws {@link ConditionError} (never anything else) with the offset of the first problem.
 * Grammar (libsinsp's): or > and > not > check; a check is `( expr )`, a macro name, or an
 * operand followed by an operator and its value.
 */
export function parseCondition(text: string): Expr {
  return new Parser(text).parseAll();
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly s: string) {}

  parseAll(): Expr {
    if (this.s.length > MAX_CONDITION_LENGTH) {
      throw new ConditionError(
        'LOAD_ERR_COMPILE_CONDITION',
        `condition is longer than ${MAX_CONDITION_LENGTH} characters; split it into macros`,
        0,
      );
    }
    this.ws();
    if (this.pos >= this.s.length) throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', 'condition is empty', 0);
    const e = this.parseOr();
    this.ws();
    if (this.pos < this.s.length) {
      const ch = this.s[this.pos];
      const what =
        ch === ')'
          ? "unbalanced ')': remove it or add the matching '('"
          : `unexpected '${this.peekWord() || ch}': expected 'and', 'or' or the end of the condition`;
      throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', what, this.pos);
    }
    return e;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) {
      throw new ConditionError(
        'LOAD_ERR_COMPILE_CONDITION',
        `condition nested deeper than ${MAX_DEPTH} levels; flatten it or split it into macros`,
        this.pos,
      );
    }
  }

  private parseOr(): Expr {
    const start = this.pos;
    const first = this.parseAnd();
    const items = [first];
    while (this.keyword('or')) items.push(this.parseAnd());
    return items.length === 1 ? first : { kind: 'or', items, span: { start: this.spanStart(start), end: this.pos } };
  }

  private parseAnd(): Expr {
    const start = this.pos;
    const first = this.parseNot();
    const items = [first];
    while (this.keyword('and')) items.push(this.parseNot());
    return items.length === 1 ? first : { kind: 'and', items, span: { start: this.spanStart(start), end: this.pos } };
  }

  private parseNot(): Expr {
    this.ws();
    const start = this.pos;
    if (this.keyword('not')) {
      this.enter();
      const expr = this.parseNot();
      this.depth--;
      return { kind: 'not', expr, span: { start, end: this.pos } };
    }
    return this.parseCheck();
  }

  private parseCheck(): Expr {
    this.ws();
    const start = this.pos;
    if (this.pos >= this.s.length) throw this.err("unexpected end of condition: expected a field, a macro name or '('");
    if (this.s[this.pos] === '(') {
      this.pos++;
      this.enter();
      const e = this.parseOr();
      this.depth--;
      this.ws();
      if (this.s[this.pos] !== ')')
        throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', "missing ')': unbalanced parentheses", start, start + 1);
      this.pos++;
      return e;
    }
    const fn = this.transformerAhead();
    if (fn) {
      const left = this.parseOperand();
      return this.parseComparison(left, start);
    }
    const field = this.match(FIELD);
    if (field !== undefined) {
      const left = this.fieldOperand(field, start);
      return this.parseComparison(left, start);
    }
    const ident = this.match(IDENT);
    if (ident !== undefined) {
      if (KEYWORDS.has(ident)) {
        throw new ConditionError(
          'LOAD_ERR_COMPILE_CONDITION',
          `unexpected keyword '${ident}': expected a field, a macro name or '('`,
          start,
          this.pos,
        );
      }
      return { kind: 'macro', name: ident, span: { start, end: this.pos } };
    }
    throw this.err(`unexpected '${this.s[this.pos]}': expected a field, a macro name or '('`);
  }

  private fieldOperand(name: string, start: number): Operand {
    if (this.s[this.pos] === '[') {
      const close = this.s.indexOf(']', this.pos + 1);
      if (close < 0)
        throw new ConditionError(
          'LOAD_ERR_COMPILE_CONDITION',
          `missing ']' after the argument of field '${name}'`,
          this.pos,
        );
      let arg = this.s.slice(this.pos + 1, close);
      if (arg.length >= 2 && (arg[0] === '"' || arg[0] === "'") && arg[arg.length - 1] === arg[0])
        arg = arg.slice(1, -1);
      this.pos = close + 1;
      return { kind: 'field', name, arg, span: { start, end: this.pos } };
    }
    return { kind: 'field', name, span: { start, end: this.pos } };
  }

  /** `tolower(...)` etc. or `val(...)` at the current position (without consuming). */
  private transformerAhead(): Transformer | 'val' | undefined {
    IDENT.lastIndex = this.pos;
    const m = IDENT.exec(this.s);
    if (!m) return undefined;
    const name = m[0];
    if (this.s[this.pos + name.length] !== '(') return undefined;
    if (name === 'val') return 'val';
    return (TRANSFORMERS as readonly string[]).includes(name) || (QUANTIFIERS as readonly string[]).includes(name)
      ? (name as Transformer)
      : undefined;
  }

  /** Operand: field, `transformer(operand)`, or `val(operand)` (returns the inner operand). */
  private parseOperand(): Operand {
    this.ws();
    const start = this.pos;
    const fn = this.transformerAhead();
    if (fn) {
      this.pos += fn.length + 1;
      this.enter();
      const inner = this.parseOperand();
      this.depth--;
      this.ws();
      if (this.s[this.pos] !== ')') throw this.err(`missing ')' after the argument of ${fn}()`);
      this.pos++;
      if (fn === 'val') return inner;
      return { kind: 'transform', fn, operand: inner, span: { start, end: this.pos } };
    }
    const field = this.match(FIELD);
    if (field === undefined) throw this.err('expected a field name (such as proc.name)');
    return this.fieldOperand(field, start);
  }

  private parseComparison(left: Operand, start: number): Expr {
    this.ws();
    const opStart = this.pos;
    const op = this.operator();
    if (!op) {
      const near = this.peekWord() || this.s[this.pos] || 'end of condition';
      throw new ConditionError(
        'LOAD_ERR_COMPILE_CONDITION',
        `expected an operator after '${this.s.slice(left.span.start, left.span.end)}', got '${near}' (operators: =, !=, <, <=, >, >=, contains, icontains, bcontains, startswith, bstartswith, endswith, glob, iglob, regex, in, intersects, pmatch, exists)`,
        opStart,
      );
    }
    if (op === 'exists') return { kind: 'check', left, op, span: { start, end: this.pos } };
    let right: RValue;
    if ((LIST_OPS as readonly string[]).includes(op)) right = this.parseListValue(op);
    else right = this.parseValue(op);
    return { kind: 'check', left, op, right, span: { start, end: this.pos } };
  }

  private operator(): Operator | undefined {
    for (const op of SYMBOL_OPS) {
      if (this.s.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    for (const op of WORD_OPS) {
      if (this.s.startsWith(op, this.pos) && !WORD_CHAR.test(this.s[this.pos + op.length] ?? ' ')) {
        this.pos += op.length;
        return op as Operator;
      }
    }
    return undefined;
  }

  private parseListValue(op: string): RValue {
    this.ws();
    const start = this.pos;
    if (this.s[this.pos] !== '(') {
      // A bare list name without parentheses (`in my_list`), as Falco's exceptions produce.
      const bare = this.match(BARE);
      if (bare === undefined) throw this.err(`expected '(' and a list of values after '${op}'`);
      return {
        kind: 'list',
        items: [{ kind: 'value', text: bare, quoted: false, span: { start, end: this.pos } }],
        span: { start, end: this.pos },
      };
    }
    this.pos++;
    const items: Value[] = [];
    this.ws();
    if (this.s[this.pos] === ')') {
      this.pos++;
      return { kind: 'list', items, span: { start, end: this.pos } };
    }
    for (;;) {
      items.push(this.parseScalar(`a list item for '${op}'`));
      this.ws();
      const ch = this.s[this.pos];
      if (ch === ',') {
        this.pos++;
        continue;
      }
      if (ch === ')') {
        this.pos++;
        break;
      }
      if (ch === undefined)
        throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', `missing ')' to close the list after '${op}'`, start);
      throw this.err(`expected ',' or ')' in the list after '${op}', got '${ch}'`);
    }
    return { kind: 'list', items, span: { start, end: this.pos } };
  }

  private parseValue(op: string): RValue {
    this.ws();
    const start = this.pos;
    if (this.transformerAhead()) {
      const operand = this.parseOperand();
      return { kind: 'operand', operand, span: { start, end: this.pos } };
    }
    return this.parseScalar(`a value after '${op}'`);
  }

  private parseScalar(what: string): Value {
    this.ws();
    const start = this.pos;
    const q = this.s[this.pos];
    if (q === '"' || q === "'") return this.parseQuoted(q);
    const bare = this.match(BARE);
    if (bare === undefined) throw this.err(`expected ${what}, got '${this.s[this.pos] ?? 'end of condition'}'`);
    return { kind: 'value', text: bare, quoted: false, span: { start, end: this.pos } };
  }

  private parseQuoted(q: string): Value {
    const start = this.pos;
    let i = this.pos + 1;
    let out = '';
    while (i < this.s.length) {
      const ch = this.s[i];
      if (ch === q) {
        this.pos = i + 1;
        return { kind: 'value', text: out, quoted: true, span: { start, end: this.pos } };
      }
      if (ch === '\\' && i + 1 < this.s.length) {
        const next = this.s[i + 1];
        const esc = ESCAPES[next];
        out += esc !== undefined ? esc : ch + next; // unknown escapes are kept as written
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
    throw new ConditionError('LOAD_ERR_COMPILE_CONDITION', `unterminated string: add the closing ${q}`, start);
  }

  // ---- scanning helpers ----
  private ws(): void {
    WS.lastIndex = this.pos;
    WS.exec(this.s);
    this.pos = WS.lastIndex;
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  private keyword(word: string): boolean {
    this.ws();
    if (!this.s.startsWith(word, this.pos)) return false;
    const next = this.s[this.pos + word.length];
    if (next !== undefined && WORD_CHAR.test(next)) return false;
    this.pos += word.length;
    return true;
  }

  private peekWord(): string {
    const m = /[^\s()]+/y;
    m.lastIndex = this.pos;
    return m.exec(this.s)?.[0] ?? '';
  }

  private spanStart(start: number): number {
    const m = /\s*/y;
    m.lastIndex = start;
    m.exec(this.s);
    return m.lastIndex;
  }

  private err(message: string): ConditionError {
    return new ConditionError('LOAD_ERR_COMPILE_CONDITION', message, this.pos);
  }
}
