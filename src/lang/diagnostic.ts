/** Where something is in a rules file; line and column are 1-based. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type Severity = 'error' | 'warning';

/** Codes of problems found while loading rules (Falco's names where Falco has one). Stable: tools match on them. */
export type LoadCode =
  | 'LOAD_ERR_YAML_PARSE'
  | 'LOAD_ERR_YAML_VALIDATE'
  | 'LOAD_ERR_FILE_READ'
  | 'LOAD_ERR_VALIDATE'
  | 'LOAD_ERR_COMPILE_CONDITION'
  | 'LOAD_ERR_COMPILE_OUTPUT'
  | 'LOAD_ERR_LIMIT'
  | 'LOAD_UNKNOWN_KEY'
  | 'LOAD_UNKNOWN_ITEM'
  | 'LOAD_UNKNOWN_FIELD'
  | 'LOAD_UNKNOWN_SOURCE'
  | 'LOAD_UNKNOWN_PLUGIN'
  | 'LOAD_UNUSED_MACRO'
  | 'LOAD_UNUSED_LIST'
  | 'LOAD_NO_EVTTYPE'
  | 'LOAD_UNSAFE_NA_CHECK';

/** Codes of `rules lint` findings. Stable: tools match on them. */
export type LintCode =
  | 'LINT_UNUSED_MACRO'
  | 'LINT_UNUSED_LIST'
  | 'LINT_NO_EVTTYPE'
  | 'LINT_NA_COMPARISON'
  | 'LINT_SHADOWED_RULE'
  | 'LINT_NEVER_TRUE'
  | 'LINT_LARGE_EXPANSION'
  | 'LINT_DUPLICATE_NAME'
  | 'LINT_DUPLICATE_ITEM';

/** Codes of problems in response policy files (`responses validate`). Stable: tools match on them. */
export type ResponseCode =
  | 'RESP_ERR_FILE_READ'
  | 'RESP_ERR_YAML_PARSE'
  | 'RESP_ERR_VALIDATE'
  | 'RESP_ERR_UNKNOWN_ACTION'
  | 'RESP_ERR_PARAMETERS'
  | 'RESP_ERR_CONDITION'
  | 'RESP_ERR_DUPLICATE'
  | 'RESP_ERR_LIMIT'
  | 'RESP_WARN_UNKNOWN_RULE';

export type DiagnosticCode = LoadCode | LintCode | ResponseCode;
export type ItemKind =
  | 'rule'
  | 'macro'
  | 'list'
  | 'exception'
  | 'required_engine_version'
  | 'required_plugin_versions'
  | 'file'
  | 'response';

/**
 * One problem in rules input. `code` is stable (Falco's names where Falco has one, such as
 * `LOAD_UNKNOWN_KEY`); `message` says what is wrong and how to fix it.
 */
export interface Diagnostic extends SourcePos {
  readonly severity: Severity;
  readonly code: DiagnosticCode;
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
      const width =
        d.endLine === d.line && d.endColumn !== undefined && d.endColumn > d.column
          ? Math.min(d.endColumn - d.column, shown.length - col + 1)
          : 1;
      out += `\n ${n} | ${shown}\n ${' '.repeat(n.length)} | ${' '.repeat(Math.max(0, col - 1))}${'^'.repeat(Math.max(1, width))}`;
    }
  }
  return out;
}
