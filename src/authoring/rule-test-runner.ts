import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { RE2JS } from 're2js';
import {
  errorMessage,
  EventDecodeError,
  FlatEventDecoder,
  type Alert,
  type AlertFieldValue,
  type SyscallEvent,
} from '../event/index.js';
import { Engine, loadRules, type LoadResult } from '../engine/index.js';
import { formatDiagnostic } from '../lang/index.js';
import { RuleTestFileError, readRuleTestFile, type RuleTestCase, type RuleTestExpectation } from './rule-test-file.js';

/** The outcome of one test case. `failures` are readable lines (expected vs actual). */
export interface RuleTestCaseResult {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly failures: readonly string[];
  readonly alerts: number;
  readonly durationMs: number;
}

export interface RuleTestRun {
  readonly cases: readonly RuleTestCaseResult[];
  readonly passed: number;
  readonly failed: number;
}

/** Test files are `*.test.yaml` / `*.test.yml`; they may live beside rule files. */
export const TEST_FILE_RE = /\.test\.ya?ml$/;

/** Expands paths (files or directories, searched recursively) to test files, sorted. */
export function findRuleTestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) for (const f of readdirSync(p).sort()) visit(join(p, f));
    else if (TEST_FILE_RE.test(p)) out.push(p);
  };
  for (const p of paths) {
    if (!statSync(p, { throwIfNoEntry: false })) throw new RuleTestFileError(p, [`${p}: no such file or directory`]);
    if (statSync(p).isFile() && !TEST_FILE_RE.test(p))
      out.push(p); // an explicit file is taken as given
    else visit(p);
  }
  return out;
}

/**
 * Runs rule test files through the real engine. `defaultRules` are loaded for files and cases
 * that name no rules. Rulesets are loaded once per distinct list of rule files.
 */
export function runRuleTests(paths: readonly string[], defaultRules: readonly string[]): RuleTestRun {
  const results: RuleTestCaseResult[] = [];
  const loads = new Map<string, LoadResult>();
  let files: string[];
  try {
    files = findRuleTestFiles(paths);
  } catch (err) {
    if (!(err instanceof RuleTestFileError)) throw err;
    results.push({ file: err.path, name: '(test files)', line: 1, failures: err.problems, alerts: 0, durationMs: 0 });
    return summarise(results);
  }
  if (files.length === 0)
    results.push({
      file: paths.join(' '),
      name: '(test files)',
      line: 1,
      failures: ['no rule test files (*.test.yaml) found'],
      alerts: 0,
      durationMs: 0,
    });
  for (const path of files) {
    let file;
    try {
      file = readRuleTestFile(path);
    } catch (err) {
      if (!(err instanceof RuleTestFileError)) throw err;
      results.push({ file: path, name: '(file)', line: 1, failures: err.problems, alerts: 0, durationMs: 0 });
      continue;
    }
    for (const c of file.cases) {
      const t0 = performance.now();
      const rules = (c.rules ?? file.rules)?.map((r) => resolve(dirname(path), r)) ?? [...defaultRules];
      const key = rules.join('\0');
      let load = loads.get(key);
      if (!load) {
        load = loadRules(rules);
        loads.set(key, load);
      }
      const r = runCase(path, c, load, c.rule_matching ?? file.ruleMatching ?? 'first');
      results.push({ ...r, durationMs: performance.now() - t0 });
    }
  }
  return summarise(results);
}

function summarise(cases: RuleTestCaseResult[]): RuleTestRun {
  const failed = cases.filter((c) => c.failures.length > 0).length;
  return { cases, passed: cases.length - failed, failed };
}

function runCase(
  path: string,
  c: RuleTestCase,
  load: LoadResult,
  matching: 'first' | 'all',
): Omit<RuleTestCaseResult, 'durationMs'> {
  const base = { file: path, name: c.name, line: c.line };
  if (!load.ok) {
    const texts = new Map(load.files.map((f) => [f.name, f.text]));
    return {
      ...base,
      alerts: 0,
      failures: [
        'the rules do not load:',
        ...load.diagnostics.errors.map((d) => formatDiagnostic(d, texts.get(d.file))),
      ],
    };
  }
  const engine = new Engine(load, { ruleMatching: matching, hostname: 'rules-test' });
  const decoder = new FlatEventDecoder(load.table);
  const events: SyscallEvent[] = [];
  const failures: string[] = [];
  try {
    if (c.events) c.events.forEach((obj, i) => events.push(decoder.decodeObject(obj, i + 1)));
    else {
      const f = resolve(dirname(path), c.events_file!);
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((l, i) => {
          if (l.trim()) events.push(decoder.decodeLine(l, i + 1));
        });
    }
  } catch (err) {
    if (err instanceof EventDecodeError || (err as NodeJS.ErrnoException).code)
      return { ...base, alerts: 0, failures: [`bad events: ${errorMessage(err)}`] };
    throw err;
  }
  const alerts: Alert[] = [];
  for (const ev of events) engine.evaluate(ev, (r) => alerts.push(engine.alert(r, ev)));
  for (const x of c.expect) failures.push(...checkExpectation(x, alerts, load));
  return { ...base, alerts: alerts.length, failures };
}

function checkExpectation(x: RuleTestExpectation, alerts: readonly Alert[], load: LoadResult): string[] {
  const known = load.rules.find((r) => r.name === x.rule);
  if (!known) {
    const near = load.rules
      .map((r) => r.name)
      .filter((n) => n.toLowerCase().includes(x.rule.toLowerCase().slice(0, 6)));
    return [
      `rule '${x.rule}' is not in the loaded rules${
        near.length
          ? `; did you mean ${near
              .slice(0, 3)
              .map((n) => `'${n}'`)
              .join(' or ')}?`
          : ''
      }`,
    ];
  }
  const mine = alerts.filter((a) => a.rule === x.rule);
  const others = summariseOthers(alerts, x.rule);
  if (!x.fires) {
    return mine.length === 0
      ? []
      : [
          `rule '${x.rule}'`,
          `  - expected: does not fire`,
          `  + actual:   fired ${times(mine.length)}: ${mine[0].output}`,
        ];
  }
  const out: string[] = [];
  if (x.count !== undefined ? mine.length !== x.count : mine.length === 0) {
    out.push(
      `rule '${x.rule}'`,
      `  - expected: fires ${x.count !== undefined ? times(x.count) : 'at least once'}`,
      `  + actual:   fired ${times(mine.length)}${known.enabled ? '' : ' (the rule is disabled)'}${others}`,
    );
  }
  for (const [field, want] of Object.entries(x.output_fields ?? {})) {
    mine.forEach((a, i) => {
      const got = field in a.output_fields ? a.output_fields[field] : undefined;
      if (got === undefined) {
        out.push(
          `rule '${x.rule}' alert ${i + 1}: output field '${field}' is not in the alert (its output uses: ${Object.keys(a.output_fields).join(', ')})`,
        );
      } else if (!fieldMatches(got, want)) {
        out.push(
          `rule '${x.rule}' alert ${i + 1}, output field '${field}'`,
          `  - expected: ${show(want)}`,
          `  + actual:   ${show(got)}`,
        );
      }
    });
  }
  return out;
}

function fieldMatches(got: AlertFieldValue, want: unknown): boolean {
  if (want !== null && typeof want === 'object' && !Array.isArray(want) && 'matches' in want) {
    return (
      got !== null &&
      RE2JS.compile(String((want as { matches: string }).matches))
        .matcher(String(got))
        .find()
    );
  }
  if (want === null) return got === null;
  if (Array.isArray(want))
    return Array.isArray(got) && JSON.stringify(got.map(String)) === JSON.stringify(want.map(String));
  if (typeof got === 'bigint')
    return typeof want === 'string' || typeof want === 'number' || typeof want === 'bigint'
      ? String(got) === String(want)
      : false;
  if (typeof want === 'string' && typeof got !== 'string') return String(got) === want;
  return got === want;
}

function show(v: unknown): string {
  return typeof v === 'bigint' ? v.toString() : JSON.stringify(v);
}

function times(n: number): string {
  return n === 1 ? '1 time' : `${n} times`;
}

function summariseOthers(alerts: readonly Alert[], except: string): string {
  const m = new Map<string, number>();
  for (const a of alerts) if (a.rule !== except) m.set(a.rule, (m.get(a.rule) ?? 0) + 1);
  return m.size ? ` (rules that fired instead: ${[...m].map(([r, n]) => `'${r}' ×${n}`).join(', ')})` : '';
}
