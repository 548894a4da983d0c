import {
  fieldValueToText,
  isoNanos,
  type AlertFieldValue,
  type FieldKeyTable,
  type FieldValue,
  type SyscallEvent,
} from '../event/index.js';
import {
  ConditionError,
  TRANSFORMERS,
  compileOperand,
  type CompiledOperand,
  type Operand,
  type Transformer,
} from '../lang/index.js';

const FIELD_AT = /([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)+)(\[[^\]]*\])?/y;
const TRANSFORM_AT = new RegExp(
  `(${TRANSFORMERS.join('|')})\\(([a-zA-Z_][a-zA-Z0-9_]*(?:\\.[a-zA-Z0-9_]+)+)(\\[[^\\]]*\\])?\\)`,
  'y',
);

interface Part {
  readonly text?: string;
  readonly key?: string;
  readonly operand?: CompiledOperand;
}

/**
 * A compiled output format (`"... %proc.name %fd.name[...] %tolower(proc.cmdline)"`).
 * `render` fills the text (`<NA>` for missing values); `fields` gives `output_fields` with native
 * JSON types (`null` for missing). Parsed once at load time.
 */
export class OutputFormat {
  private constructor(private readonly parts: readonly Part[]) {}

  /** Compiles a format; throws {@link ConditionError} (code LOAD_ERR_COMPILE_OUTPUT) on a bad field. */
  static compile(format: string, table: FieldKeyTable): OutputFormat {
    const parts: Part[] = [];
    let lit = '';
    for (let i = 0; i < format.length; i++) {
      const ch = format[i];
      if (ch !== '%') {
        lit += ch;
        continue;
      }
      TRANSFORM_AT.lastIndex = i + 1;
      FIELD_AT.lastIndex = i + 1;
      const t = TRANSFORM_AT.exec(format);
      const m = t ? undefined : FIELD_AT.exec(format);
      if (!t && !m) {
        const word = /[a-zA-Z_][a-zA-Z0-9_]*/y;
        word.lastIndex = i + 1;
        const w = word.exec(format);
        if (w)
          throw new ConditionError(
            'LOAD_ERR_COMPILE_OUTPUT',
            `invalid formatting token %${w[0]}: expected %field such as %proc.name (see \`peregrine fields\`)`,
            i,
            i + 1 + w[0].length,
          );
        lit += ch;
        continue;
      }
      const start = i + 1;
      const whole = (t ?? m)![0];
      const name = t ? t[2] : m![1];
      const argRaw = t ? t[3] : m![2];
      const arg = argRaw?.slice(1, -1);
      const fieldOp: Operand = { kind: 'field', name, arg, span: { start, end: start + whole.length } };
      const operand: Operand = t
        ? { kind: 'transform', fn: t[1] as Transformer, operand: fieldOp, span: fieldOp.span }
        : fieldOp;
      let compiled: CompiledOperand;
      try {
        compiled = compileOperand(operand, table);
      } catch (err) {
        if (err instanceof ConditionError)
          throw new ConditionError('LOAD_ERR_COMPILE_OUTPUT', `in output: ${err.message}`, err.start, err.end);
        throw err;
      }
      if (lit) parts.push({ text: lit });
      lit = '';
      parts.push({ key: whole, operand: compiled });
      i += whole.length;
    }
    if (lit) parts.push({ text: lit });
    return new OutputFormat(parts);
  }

  /** Output field keys, in order of first use. */
  get keys(): string[] {
    return [...new Set(this.parts.filter((p) => p.key).map((p) => p.key!))];
  }

  render(e: SyscallEvent): string {
    let out = '';
    for (const p of this.parts) {
      if (p.text !== undefined) out += p.text;
      else out += renderValue(p.key!, readOperand(p.operand!, e));
    }
    return out;
  }

  /** Adds this format's fields to `into` (native types, `null` when missing). */
  /** Adds the format's fields the event has a value for and `into` has not set yet (context fields). */
  presentFields(e: SyscallEvent, into: Record<string, AlertFieldValue>): void {
    for (const p of this.parts) {
      if (p.key === undefined || p.key in into) continue;
      const v = readOperand(p.operand!, e);
      if (v !== undefined) into[p.key] = v;
    }
  }

  fields(e: SyscallEvent, into: Record<string, AlertFieldValue>): void {
    for (const p of this.parts) {
      if (p.key === undefined) continue;
      const v = readOperand(p.operand!, e);
      into[p.key] = v === undefined ? null : v;
    }
  }
}

function readOperand(o: CompiledOperand, e: SyscallEvent): FieldValue | undefined {
  if (o.kind === 'single') return o.read(e);
  const vs = o.read(e);
  return vs.length === 0 ? undefined : vs.length === 1 ? vs[0] : vs.map(String);
}

function renderValue(key: string, v: FieldValue | undefined): string {
  if (typeof v === 'bigint') {
    if (key === 'evt.time') return isoNanos(v).slice(11, 29);
    if (key === 'evt.time.iso8601' || key === 'evt.datetime' || key.endsWith('_ts') || key.endsWith('time'))
      return isoNanos(v);
  }
  return fieldValueToText(v);
}
