/**
 * Falco's own load-time expectations (falco_tests.yaml / falco_tests_exceptions.yaml:
 * `validate_errors` / `validate_warnings`): for each case, Peregrine reports a diagnostic with
 * Falco's code on the same item kind and name. Messages are Peregrine's own (they say how to fix).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../src/lang/index.js';
import { UPSTREAM, loadRules, requireUpstream } from './helpers/upstream.js';

requireUpstream();
const REG = `${UPSTREAM}regression/`;

interface Expect {
  item_type: string;
  item_name?: string;
  code: string;
}
interface Case {
  validate_rules_file: string | string[];
  validate_errors?: Expect[];
  validate_warnings?: Expect[];
}

function cases(file: string): Array<[string, Case]> {
  const doc = parse(readFileSync(`${REG}${file}`, 'utf8').replace(/!mux/g, '')) as Record<string, unknown>;
  const out: Array<[string, Case]> = [];
  const walk = (x: unknown): void => {
    if (!x || typeof x !== 'object') return;
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
      if (v && typeof v === 'object' && ('validate_errors' in v || 'validate_warnings' in v)) out.push([k, v as Case]);
      else walk(v);
    }
  };
  walk(doc);
  return out;
}

/** Falco's item types for file-level problems map to Peregrine's `file` kind. */
const KIND: Record<string, string> = { 'rules content': 'file', 'rules content item': 'file' };

function matches(d: Diagnostic, e: Expect): boolean {
  const kind = KIND[e.item_type] ?? e.item_type;
  if (d.code !== e.code || d.itemKind !== kind) return false;
  return kind === 'file' || kind === 'required_engine_version' || (e.item_name ?? '') === (d.itemName ?? '');
}

const all = [...cases('falco_tests.yaml'), ...cases('falco_tests_exceptions.yaml')];

describe("Falco's validate expectations", () => {
  it('found the 41 cases', () => expect(all.length).toBe(41));
  for (const [name, c] of all) {
    it(name, () => {
      const files = (Array.isArray(c.validate_rules_file) ? c.validate_rules_file : [c.validate_rules_file]).map(
        (f) => `${REG}${f}`,
      );
      const load = loadRules(files);
      for (const e of c.validate_errors ?? []) {
        expect(
          load.diagnostics.errors.some((d) => matches(d, e)),
          `error ${JSON.stringify(e)} in ${JSON.stringify(load.diagnostics.errors.map((d) => [d.code, d.itemKind, d.itemName, d.message]))}`,
        ).toBe(true);
      }
      for (const e of c.validate_warnings ?? []) {
        expect(
          load.diagnostics.warnings.some((d) => matches(d, e)),
          `warning ${JSON.stringify(e)} in ${JSON.stringify(load.diagnostics.warnings.map((d) => [d.code, d.itemKind, d.itemName]))}`,
        ).toBe(true);
      }
      if (!c.validate_errors?.length) expect(load.diagnostics.errors).toEqual([]);
    });
  }
});
