import type { Value } from './ast.js';

/**
 * A YAML list item or exception value as a condition constant: text written with its own
 * matching quotes (`'"cat /dev/null"'`) is a quoted string (unescaped); anything else is bare,
 * so it may still name a list.
 */
export function valueFromText(raw: string): Value {
  const q = raw[0];
  if (raw.length >= 2 && (q === '"' || q === "'") && raw[raw.length - 1] === q) {
    return {
      kind: 'value',
      text: raw.slice(1, -1).replace(/\\(["'\\])/g, '$1'),
      quoted: true,
      span: { start: 0, end: 0 },
    };
  }
  return { kind: 'value', text: raw, quoted: false, span: { start: 0, end: 0 } };
}
