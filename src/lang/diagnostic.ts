/** Where something is in a rules file; line and column are 1-based. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type Severity = 'error' | 'warning';
export type ItemKind = 'rule' | 'macro' | 'list' | 'exception' | 'required_engine_version' | 'required_plugin_versions' | 'file';

/**
 * One problem in rules input. `code` is stable (Falco's names where Falco has one, such as
 * `LOAD_UNKNOWN_KEY`); `message` says what is wrong and how to fix it.
 */
export interface Diagnostic extends SourcePos {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly itemKind?: ItemKind;
  readonly itemName?: string;
  readonly endLine?: number;
  readonly endColumn?: number;
}

/** Collects every diagnostic of a load before anything fails. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.items.push(d);
  }

  get errors(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'error');
  }

  get warnings(): Diagnostic[] {
    return this.items.filter((d) => d.severity === 'warning');
  }
}

/**
 * Formats a diagnostic as `file:line:col: severity CODE: message (kind 'name')` followed by a
 * code frame of the line when the source text is available.
 */
export function formatDiagnostic(d: Diagnostic, source?: string): string {
  const item = d.itemKind && d.itemName !== undefined ? ` (${d.itemKind} '${d.itemName}')` : '';
  let out = `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.code}: ${d.message}${item}`;
  if (source !== undefined) {
    const lines = source.split('\n');
    const text = lines[d.line - 1];
    if (text !== undefined) {
      const n = String(d.line);
      const shown = text.length > 160 ? text.slice(Math.max(0, d.column - 80), Math.max(0, d.column - 80) + 160) : text;
      const col = text.length > 160 ? Math.min(d.column, 80) : d.column;
      const width = d.endLine === d.line && d.endColumn !== undefined && d.endColumn > d.column ? Math.min(d.endColumn - d.column, shown.length - col + 1) : 1;
      out += `\n ${n} | ${shown}\n ${' '.repeat(n.length)} | ${' '.repeat(Math.max(0, col - 1))}${'^'.repeat(Math.max(1, width))}`;
    }
  }
  return out;
}
