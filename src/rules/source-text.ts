import type { LineCounter } from 'yaml';
import type { SourcePos } from '../lang/index.js';

interface Segment {
  /** Offset of this segment in the combined text. */
  readonly at: number;
  readonly length: number;
  readonly locate: (offset: number) => SourcePos;
}

/**
 * Text of a condition or output with a map back to file positions. Built from YAML scalars
 * (plain, quoted, folded or literal) and joined when `append`/`override` concatenate
 * conditions, so an error anywhere still points at the right file, line and column.
 */
export class SourceText {
  private constructor(
    readonly text: string,
    private readonly segments: readonly Segment[],
  ) {}

  /** Text that maps every offset to one position (generated text, e.g. exceptions). */
  static at(text: string, pos: SourcePos): SourceText {
    return new SourceText(text, [{ at: 0, length: text.length, locate: () => pos }]);
  }

  /**
   * Text of a YAML scalar whose source occupies `src[start, end)`. Offsets are mapped lazily
   * (only when a diagnostic needs one) by aligning the value with its source: folding and
   * escapes change only whitespace, quotes and backslashes.
   */
  static fromScalar(value: string, file: string, src: string, start: number, end: number, lc: LineCounter): SourceText {
    const locate = (offset: number): SourcePos => {
      let j = start;
      const first = src[j];
      if (first === '>' || first === '|') {
        const nl = src.indexOf('\n', j);
        j = nl < 0 ? end : nl + 1;
      } else if (first === '"' || first === "'") j++;
      let i = 0;
      while (i < offset && j < end) {
        if (value[i] === src[j]) {
          i++;
          j++;
        } else if (/\s|["'\\]/.test(src[j])) j++;
        else i++;
      }
      while (j < end && value[i] !== src[j] && /\s/.test(src[j])) j++;
      const p = lc.linePos(Math.min(j, end));
      return { file, line: p.line, column: p.col };
    };
    return new SourceText(value, [{ at: 0, length: value.length, locate }]);
  }

  /** This text, `sep`, then `other`; positions of both halves are kept. */
  concat(other: SourceText, sep = ' '): SourceText {
    const shift = this.text.length + sep.length;
    return new SourceText(this.text + sep + other.text, [
      ...this.segments,
      ...other.segments.map((s) => ({ ...s, at: s.at + shift })),
    ]);
  }

  /** Wraps the text in parentheses (positions kept). */
  parenthesised(): SourceText {
    return new SourceText(
      `(${this.text})`,
      this.segments.map((s) => ({ ...s, at: s.at + 1 })),
    );
  }

  /** File position of an offset into {@link text}. */
  locate(offset: number): SourcePos {
    let seg = this.segments[0];
    for (const s of this.segments) if (offset >= s.at) seg = s;
    return seg.locate(Math.max(0, Math.min(offset - seg.at, seg.length)));
  }
}
