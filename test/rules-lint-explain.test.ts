import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explainRule, explanationText, lintRules } from '../src/authoring/index.js';
import { FlatEventDecoder } from '../src/event/index.js';
import { loadRules } from '../src/engine/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FIX = `${ROOT}test/fixtures/lint/`;

describe('rules lint', () => {
  const { findings } = lintRules([`${FIX}a.yaml`, `${FIX}b.yaml`]);
  const codes = (code: string): string[] =>
    findings.filter((f) => f.code === code).map((f) => `${f.itemName}@${f.file.slice(FIX.length)}:${f.line}`);

  it('finds each kind of problem with its position and a fix', () => {
    expect(codes('LINT_UNUSED_LIST')).toEqual(['unused_list@a.yaml:1']);
    expect(codes('LINT_UNUSED_MACRO')).toEqual(['unused_macro@a.yaml:3']);
    expect(codes('LINT_NO_EVTTYPE')).toEqual(['Slow rule@a.yaml:17']);
    expect(codes('LINT_SHADOWED_RULE')).toEqual(['Narrow open@a.yaml:12']);
    expect(codes('LINT_NEVER_TRUE')).toEqual(['Never@a.yaml:22']);
    expect(codes('LINT_NA_COMPARISON')).toEqual(['NA check@a.yaml:29']);
    expect(codes('LINT_DUPLICATE_NAME')).toEqual(['is_open@b.yaml:1']);
    expect(codes('LINT_DUPLICATE_ITEM')).toEqual(['shells@a.yaml:33']);
    expect(findings.find((f) => f.code === 'LINT_DUPLICATE_ITEM')).toMatchObject({
      column: 21,
      message: "list 'shells' has the item 'bash' more than once",
    });
    for (const f of findings) expect(f.fix.length).toBeGreaterThan(10);
  });

  it('the default rules are lint-clean; CLI --json and exit codes', () => {
    const clean = spawnSync(
      process.execPath,
      [`${ROOT}bin/peregrine.js`, 'rules', 'lint', '--max-warnings', '0', `${ROOT}rules`],
      { encoding: 'utf8' },
    );
    expect(clean.status).toBe(0);
    const r = spawnSync(
      process.execPath,
      [`${ROOT}bin/peregrine.js`, 'rules', 'lint', '--json', '--max-warnings', '0', FIX],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { findings: Array<Record<string, unknown>> };
    expect(j.findings.length).toBe(findings.length);
    expect(Object.keys(j.findings[0])).toEqual([
      'file',
      'line',
      'column',
      'severity',
      'code',
      'message',
      'fix',
      'itemKind',
      'itemName',
    ]);
  });
});

describe('rules explain', () => {
  const load = loadRules([`${ROOT}rules`]);
  const decoder = new FlatEventDecoder(load.table);
  const rule = load.rules.find((r) => r.name === 'Read sensitive file')!;

  it('shows why a rule does not match: the failing sub-expression and the fields it read', () => {
    const ev = decoder.decodeObject(
      {
        'evt.type': 'openat',
        'evt.arg.flags': 'O_RDONLY',
        'fd.num': 3,
        'fd.typechar': 'f',
        'fd.name': '/etc/shadow',
        'proc.name': 'sudo',
      },
      1,
    );
    const x = explainRule(load, rule, ev);
    expect(x.matched).toBe(false);
    const text = explanationText(x);
    expect(text).toContain('✓ macro open_read');
    expect(text).toContain('✓ fd.name in (sensitive_file_names)    [fd.name=/etc/shadow]');
    expect(text).toContain('✓ proc.name in (trusted_credential_readers)    [proc.name=sudo]');
    expect(text).toMatch(/✗ not\n/);
  });

  it('marks short-circuited nodes and missing fields', () => {
    const ev = decoder.decodeObject(
      { 'evt.type': 'openat', 'evt.arg.flags': 'O_WRONLY', 'fd.num': 3, 'fd.typechar': 'f' },
      1,
    );
    const text = explanationText(explainRule(load, rule, ev));
    expect(text).toContain('✗ evt.is_open_read = true    [evt.is_open_read=false]');
    expect(text).toContain('· fd.name in (sensitive_file_names)    [fd.name=<NA>]    (not evaluated: decided earlier)');
  });

  it('CLI lists matching rules and explains one', () => {
    const ev =
      '{"evt.type":"openat","evt.arg.flags":"O_RDONLY","fd.num":3,"fd.typechar":"f","fd.name":"/etc/shadow","proc.name":"cat"}';
    const r = spawnSync(
      process.execPath,
      [
        `${ROOT}bin/peregrine.js`,
        'rules',
        'explain',
        '--rules',
        `${ROOT}rules`,
        '--event',
        ev,
        '--rule',
        'Read sensitive file',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('  - Read sensitive file');
    expect(r.stdout).toMatch(/rule 'Read sensitive file' \(.*peregrine_rules\.yaml:\d+\): MATCHES/);
    const bad = spawnSync(
      process.execPath,
      [`${ROOT}bin/peregrine.js`, 'rules', 'explain', '--rules', `${ROOT}rules`, '--event', '{oops'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--event: not valid JSON/);
  });
});
