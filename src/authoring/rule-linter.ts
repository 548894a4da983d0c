import type { CompiledRule, LoadResult } from '../engine/index.js';
import { loadRules } from '../engine/index.js';
import {
  formatDiagnostic,
  hasType,
  parseCondition,
  printCondition,
  walk,
  type Diagnostic,
  type DiagnosticCode,
  type Expr,
  type ItemKind,
  type LintCode,
  type SourcePos,
} from '../lang/index.js';
import type { SourceText } from '../rules/index.js';

/** One lint finding: a diagnostic plus the suggested fix. */
export interface LintFinding extends Diagnostic {
  readonly fix: string;
}

export interface LintResult {
  readonly load: LoadResult;
  readonly findings: readonly LintFinding[];
}

const FROM_LOAD: Readonly<Partial<Record<DiagnosticCode, { code: LintCode; fix: string }>>> = {
  LOAD_UNUSED_MACRO: { code: 'LINT_UNUSED_MACRO', fix: 'remove the macro, or use it in a rule' },
  LOAD_UNUSED_LIST: { code: 'LINT_UNUSED_LIST', fix: 'remove the list, or use it in a condition' },
  LOAD_NO_EVTTYPE: {
    code: 'LINT_NO_EVTTYPE',
    fix: 'restrict the rule to the event types it is about, e.g. `evt.type in (open, openat)`; every rule without one runs on every event',
  },
  LOAD_UNSAFE_NA_CHECK: {
    code: 'LINT_NA_COMPARISON',
    fix: 'a missing field never equals anything: test `FIELD exists` / `not FIELD exists` instead',
  },
};

/**
 * Lints rules files: everything `rules validate` reports, plus unused lists and macros, lists
 * holding an item twice, rules without an event-type restriction, rules shadowed under first-match semantics, comparisons
 * with `<NA>`, conditions that can never be true for their event types, and names defined in
 * more than one file. Each finding has a position and a suggested fix.
 */
export function lintRules(paths: readonly string[]): LintResult {
  const load = loadRules(paths);
  const findings: LintFinding[] = [];
  for (const d of load.diagnostics.items) {
    const m = FROM_LOAD[d.code];
    findings.push(m ? { ...d, code: m.code, fix: m.fix } : { ...d, fix: 'see the message' });
  }
  if (!load.ok) return { load, findings };
  naInLists(load, findings);
  duplicateItems(load, findings);
  neverTrue(load, findings);
  largeExpansion(load, findings);
  shadowed(load, findings);
  duplicates(load, findings);
  return { load, findings };
}

function add(
  findings: LintFinding[],
  pos: SourcePos,
  code: LintCode,
  message: string,
  fix: string,
  kind: ItemKind,
  name: string,
): void {
  findings.push({ ...pos, severity: 'warning', code, message, fix, itemKind: kind, itemName: name });
}

/** `in ("<NA>", ...)`: the Falco idiom that silently never matches a missing field. */
function naInLists(load: LoadResult, findings: LintFinding[]): void {
  const scan = (text: SourceText, kind: ItemKind, name: string): void => {
    let e: Expr;
    try {
      e = parseCondition(text.text);
    } catch {
      return;
    }
    walk(e, (n) => {
      if (n.kind !== 'check' || n.right?.kind !== 'list') return;
      const na = n.right.items.find((v) => v.text === '<NA>');
      if (na) {
        add(
          findings,
          text.locate(na.span.start),
          'LINT_NA_COMPARISON',
          `'${printCondition(n)}' compares with <NA>: a missing field is never in a list, so this does not catch missing values`,
          `use \`not ${printCondition(n).split(' ')[0]} exists\` for the missing case`,
          kind,
          name,
        );
      }
    });
  };
  for (const m of load.definitions.macros.values()) scan(m.condition, 'macro', m.name);
  for (const r of load.definitions.rules.values()) scan(r.condition, 'rule', r.name);
}

/** A list that holds the same item twice (often a copy-paste slip; the second one does nothing). */
function duplicateItems(load: LoadResult, findings: LintFinding[]): void {
  for (const l of load.definitions.lists.values()) {
    const seen = new Set<string>();
    for (const item of l.items) {
      if (seen.has(item.value)) {
        add(
          findings,
          item.pos,
          'LINT_DUPLICATE_ITEM',
          `list '${l.name}' has the item '${item.value}' more than once`,
          'remove the repeated item',
          'list',
          l.name,
        );
      } else seen.add(item.value);
    }
  }
}

function neverTrue(load: LoadResult, findings: LintFinding[]): void {
  for (const r of load.rules) {
    if (!r.types.neg && r.types.set.size === 0) {
      add(
        findings,
        r.pos,
        'LINT_NEVER_TRUE',
        `the condition of '${r.name}' can never be true: its evt.type constraints exclude every event type`,
        'check the evt.type comparisons (for example `evt.type=open and evt.type=execve` is never true; use `or` or `in`)',
        'rule',
        r.name,
      );
    }
  }
}

/** Rules whose condition expands (through macros) to more checks than this are reported. */
export const LARGE_EXPANSION = 10_000;

/** Macros nested so that the expanded condition is huge: evaluation stays linear, reading does not. */
function largeExpansion(load: LoadResult, findings: LintFinding[]): void {
  for (const r of load.rules) {
    if (r.expandedSize <= LARGE_EXPANSION) continue;
    const size = r.expandedSize >= 1e15 ? 'more than 10^15' : r.expandedSize.toLocaleString('en-US');
    add(
      findings,
      r.pos,
      'LINT_LARGE_EXPANSION',
      `the condition of '${r.name}' expands to ${size} checks when its macros are written out (macros that use other macros several times); the engine evaluates each large macro once per event, so it stays fast, but people and other Falco-language tools that expand macros cannot follow it`,
      'flatten the nested macros: reference each macro once, or combine their checks with `in (...)` lists',
      'rule',
      r.name,
    );
  }
}

/** The macro-expanded top-level conjuncts of a rule, as text. */
function conjuncts(load: LoadResult, r: CompiledRule): Set<string> {
  // Each macro is expanded once per rule (its conjuncts are a set): linear in the rule text.
  const expanded = new Set<string>();
  const expand = (e: Expr, depth: number): Expr[] => {
    if (e.kind === 'and') return e.items.flatMap((x) => expand(x, depth));
    if (e.kind === 'macro' && expanded.has(e.name)) return [];
    if (e.kind === 'macro' && depth < 32) {
      expanded.add(e.name);
      const m = load.definitions.macros.get(e.name);
      if (m) {
        try {
          return expand(parseCondition(m.condition.text), depth + 1);
        } catch {
          return [e];
        }
      }
    }
    return [e];
  };
  const def = load.definitions.rules.get(r.name)!;
  if (def.exceptions.length) return new Set(['\u0000exceptions']); // exceptions make the rule narrower in ways not compared here
  return new Set(expand(parseCondition(def.condition.text), 0).map(printCondition));
}

/** Under `rule_matching: first`, a later rule whose events always match an earlier one never alerts. */
function shadowed(load: LoadResult, findings: LintFinding[]): void {
  const enabled = load.rules.filter((r) => r.enabled);
  const cache = new Map<string, Set<string>>();
  const conj = (r: CompiledRule): Set<string> => {
    let c = cache.get(r.name);
    if (!c) cache.set(r.name, (c = conjuncts(load, r)));
    return c;
  };
  for (let j = 0; j < enabled.length; j++) {
    const b = enabled[j];
    if (b.types.neg) continue;
    for (let i = 0; i < j; i++) {
      const a = enabled[i];
      if (![...b.types.set].every((t) => hasType(a.types, t))) continue;
      const ca = conj(a);
      const cb = conj(b);
      if (ca.has('\u0000exceptions') || cb.has('\u0000exceptions')) continue;
      if ([...ca].every((x) => cb.has(x))) {
        add(
          findings,
          b.pos,
          'LINT_SHADOWED_RULE',
          `under rule_matching: first, every event that matches '${b.name}' also matches the earlier rule '${a.name}' (${a.pos.file}:${a.pos.line}), so '${b.name}' never alerts`,
          `move '${b.name}' before '${a.name}', make '${a.name}' more specific, or run with rule_matching: all`,
          'rule',
          b.name,
        );
        break;
      }
    }
  }
}

/** The same list, macro or rule defined (not appended or overridden) in more than one file. */
function duplicates(load: LoadResult, findings: LintFinding[]): void {
  const seen = new Map<string, SourcePos>();
  for (const f of load.files) {
    for (const item of f.items) {
      if (item.kind !== 'list' && item.kind !== 'macro' && item.kind !== 'rule') continue;
      if (item.append || item.override) continue;
      if (item.kind === 'rule' && [...item.keys].every((k) => k === 'rule' || k === 'enabled')) continue;
      const key = `${item.kind}\u0000${item.name}`;
      const first = seen.get(key);
      if (first && first.file !== item.pos.file) {
        add(
          findings,
          item.pos,
          'LINT_DUPLICATE_NAME',
          `${item.kind} '${item.name}' is also defined in ${first.file}:${first.line}; this later definition replaces it entirely`,
          `rename one of them, or change only some keys with \`override:\` instead of redefining the ${item.kind}`,
          item.kind,
          item.name,
        );
      } else if (!first) seen.set(key, item.pos);
    }
  }
}

/** Text report with code frames and a summary line. */
export function lintText(result: LintResult): string {
  const texts = new Map(result.load.files.map((f) => [f.name, f.text]));
  const out = result.findings.map((f) => `${formatDiagnostic(f, texts.get(f.file))}\n   fix: ${f.fix}`);
  const e = result.findings.filter((f) => f.severity === 'error').length;
  out.push(`${result.findings.length} finding(s): ${e} error(s), ${result.findings.length - e} warning(s)`);
  return out.join('\n') + '\n';
}
