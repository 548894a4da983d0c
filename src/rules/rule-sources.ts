import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DiagnosticBag } from '../lang/index.js';
import { readRuleFile } from './rule-file-reader.js';
import type { RuleFile } from './rule-items.js';

/**
 * Reads rules from paths in order. A directory contributes its `*.yaml`/`*.yml` files sorted by
 * name (as Falco does for rules directories), except rule test files (`*.test.yaml`). Unreadable paths become diagnostics.
 */
export function readRuleSources(paths: readonly string[], bag: DiagnosticBag): RuleFile[] {
  const out: RuleFile[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = statSync(p).isDirectory()
        ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f)).sort().map((f) => join(p, f))
        : [p];
    } catch (err) {
      bag.add({ severity: 'error', code: 'LOAD_ERR_FILE_READ', message: `cannot read rules: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: check the path and permissions`, file: p, line: 1, column: 1, itemKind: 'file', itemName: p });
      continue;
    }
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch (err) {
        bag.add({ severity: 'error', code: 'LOAD_ERR_FILE_READ', message: `cannot read rules file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file: f, line: 1, column: 1, itemKind: 'file', itemName: f });
        continue;
      }
      out.push(readRuleFile(f, bytes, bag));
    }
  }
  return out;
}
