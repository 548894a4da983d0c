/**
 * Hostile rule files: huge and nested lists, exponential macros, oversized files. Each must
 * load (or be refused with a positioned error) in linear time and bounded memory, and never
 * crash the loader, `rules validate`, `lint` or `explain`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainRule, explanationText, lintRules } from '../src/authoring/index.js';
import { Engine, MAX_LIST_VALUES, loadRules } from '../src/engine/index.js';
import { FlatEventDecoder } from '../src/event/index.js';
import { MAX_RULES_FILE_BYTES } from '../src/rules/index.js';
import { PEREGRINE } from './helpers/daemon.js';
import { RULE, exponentialMacros } from './helpers/hostile-rules.js';

/** A list defined in one file and appended to in others: `files` files of `per` items each. */
function bigListFiles(dir: string, files: number, per: number): string[] {
  const out: string[] = [];
  for (let f = 0; f < files; f++) {
    const items = Array.from({ length: per }, (_, i) => `p${f}x${i}`).join(', ');
    const path = join(dir, `list-${f}.yaml`);
    writeFileSync(path, `- list: big\n  items: [${items}]\n${f ? '  append: true\n' : ''}`);
    out.push(path);
  }
  return out;
}

describe('hostile lists', () => {
  it('a list that includes a 180,000-item list (built by appends across files) loads: no stack overflow', () => {
    const dir = mkdtempSync(join(tmpdir(), 'biglist-'));
    const files = bigListFiles(dir, 4, 45_000);
    writeFileSync(
      join(dir, 'z.yaml'),
      `- list: outer\n  items: [big, extra]\n${RULE('evt.type = openat and proc.name in (outer)')}`,
    );
    const load = loadRules([...files, join(dir, 'z.yaml')]);
    expect(load.diagnostics.errors).toEqual([]);
    expect(load.lists.get('outer')!.length).toBe(180_001);
    const ev = new FlatEventDecoder(load.table).decodeObject({ 'evt.type': 'openat', 'proc.name': 'p3x44999' }, 1);
    expect(new Engine(load).evaluate(ev, () => {})).toBe(1);
    // the CLI says so, with no stack trace
    const r = spawnSync(process.execPath, [PEREGRINE, 'rules', 'validate', ...files, join(dir, 'z.yaml')], {
      encoding: 'utf8',
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });

  it('a list that names a big list many times is refused with its position, not expanded without bound', () => {
    const dir = mkdtempSync(join(tmpdir(), 'listbomb-'));
    const files = bigListFiles(dir, 1, 40_000);
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(
      bomb,
      `- list: bomb\n  items: [${Array(60).fill('big').join(', ')}]\n${RULE('evt.type = openat and proc.name in (bomb)')}`,
    );
    const load = loadRules([...files, bomb]);
    const err = load.diagnostics.errors.find((d) => d.code === 'LOAD_ERR_LIMIT');
    expect(err).toMatchObject({ file: bomb, line: 1, column: 3, itemKind: 'list', itemName: 'bomb' });
    expect(err!.message).toContain(MAX_LIST_VALUES.toLocaleString('en-US'));
    const r = spawnSync(process.execPath, [PEREGRINE, 'rules', 'validate', ...files, bomb], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`${bomb}:1:3: error LOAD_ERR_LIMIT`));
  });

  it('conditions that splice a big list over and over are refused (bounded copies)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'splice-'));
    const files = bigListFiles(dir, 1, 40_000);
    const many = join(dir, 'many.yaml');
    const ins = Array(250).fill('big').join(', ');
    writeFileSync(many, RULE(`evt.type = openat and proc.name in (${ins})`));
    const load = loadRules([...files, many]);
    expect(load.diagnostics.errors.map((d) => [d.code, d.itemName])).toEqual([['LOAD_ERR_LIMIT', 'R']]);
  });

  it('a file over the size limit is refused without being parsed; a device is not read whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bigfile-'));
    const f = join(dir, 'huge.yaml');
    writeFileSync(f, `# ${'x'.repeat(MAX_RULES_FILE_BYTES)}\n`);
    const load = loadRules([f]);
    expect(load.diagnostics.errors.map((d) => [d.code, d.file, d.line])).toEqual([['LOAD_ERR_LIMIT', f, 1]]);
    expect(load.diagnostics.errors[0].message).toMatch(/split it into several files/);
    const zero = loadRules(['/dev/zero']);
    expect(zero.diagnostics.errors.map((d) => d.code)).toEqual(['LOAD_ERR_LIMIT']);
  });
});

describe('exponential macros', () => {
  const dir = mkdtempSync(join(tmpdir(), 'expmacro-'));
  const file = join(dir, 'exp.yaml');
  writeFileSync(file, exponentialMacros(34));

  it('load, and every event costs checks linear in the rule text (this would run 2^34 checks per event)', () => {
    const load = loadRules([file]);
    expect(load.diagnostics.errors).toEqual([]);
    const rule = load.rules.find((r) => r.name === 'Exponential')!;
    expect(rule.expandedSize).toBeGreaterThan(2 ** 34);
    const engine = new Engine(load, { ruleMatching: 'all' });
    const decoder = new FlatEventDecoder(load.table);
    const matched: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const ev = decoder.decodeObject({ 'evt.type': 'openat', 'proc.name': i % 2 ? 'cat' : 'never-this-name' }, i);
      engine.evaluate(ev, (r) => matched.push(r.name));
    }
    expect(matched.filter((n) => n === 'Exponential').length).toBe(500);
    expect(matched.filter((n) => n === 'Cat').length).toBe(500);
  });

  it('rules lint reports the expanded size; explain shows each macro once', () => {
    const { findings } = lintRules([file]);
    const big = findings.find((f) => f.code === 'LINT_LARGE_EXPANSION');
    expect(big).toMatchObject({ itemName: 'Exponential', file, severity: 'warning' });
    expect(big!.message).toMatch(/expands to [\d,]+ checks/);
    const load = loadRules([file]);
    const ev = new FlatEventDecoder(load.table).decodeObject(
      { 'evt.type': 'openat', 'proc.name': 'never-this-name' },
      1,
    );
    const x = explainRule(
      load,
      load.rules.find((r) => r.name === 'Exponential')!,
      ev,
    );
    expect(x.matched).toBe(true);
    const text = explanationText(x);
    expect(text.split('\n').length).toBeLessThan(200);
    expect(text).toMatch(/macro m33 \(expanded above\)/);
  });

  it('the CLI validates, lints and explains it promptly', () => {
    const v = spawnSync(process.execPath, [PEREGRINE, 'rules', 'validate', file], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(v.status).toBe(0);
    const l = spawnSync(process.execPath, [PEREGRINE, 'rules', 'lint', file], { encoding: 'utf8', timeout: 30_000 });
    expect(l.stdout + l.stderr).toMatch(/LINT_LARGE_EXPANSION/);
    const e = spawnSync(
      process.execPath,
      [
        PEREGRINE,
        'rules',
        'explain',
        '--rules',
        file,
        '--event',
        '{"evt.type":"openat","proc.name":"cat"}',
        '--rule',
        'Exponential',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect([e.status, e.signal]).toEqual([0, null]);
    expect(e.stdout).toMatch(/macro m34/);
  });
});
