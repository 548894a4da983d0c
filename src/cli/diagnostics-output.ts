import { formatDiagnostic, type Diagnostic } from '../lang/index.js';
import type { LoadResult } from '../engine/index.js';

/** Diagnostics as text with code frames, errors first, then a one-line summary. */
export function diagnosticsText(load: LoadResult): string {
  const sources = new Map(load.files.map((f) => [f.name, f.text]));
  const sorted = [...load.diagnostics.errors, ...load.diagnostics.warnings];
  const lines = sorted.map((d) => formatDiagnostic(d, sources.get(d.file)));
  const e = load.diagnostics.errors.length;
  const w = load.diagnostics.warnings.length;
  lines.push(
    `${load.counts.rules} rules, ${load.counts.macros} macros, ${load.counts.lists} lists: ${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`,
  );
  return lines.join('\n') + '\n';
}

/** One diagnostic as a JSON object (stable keys). */
export function diagnosticJson(d: Diagnostic): Record<string, unknown> {
  return {
    file: d.file,
    line: d.line,
    column: d.column,
    severity: d.severity,
    code: d.code,
    message: d.message,
    itemKind: d.itemKind ?? null,
    itemName: d.itemName ?? null,
  };
}
