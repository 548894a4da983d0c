import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { loadRules } from '../src/engine/index.js';
import { readRuleTestFile, ruleTestText, runRuleTests } from '../src/authoring/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RULES = `${ROOT}rules`;
const FIX = `${ROOT}test/fixtures/rule-tests/`;

describe("Peregrine's default rules", () => {
  it('load with no errors or warnings, every rule tagged with MITRE tactic and technique', () => {
    const load = loadRules([RULES]);
    expect(load.diagnostics.items).toEqual([]);
    expect(load.rules.length).toBeGreaterThanOrEqual(20);
    for (const r of load.rules) {
      expect(
        r.tags.some((t) => t.startsWith('mitre_')),
        r.name,
      ).toBe(true);
      expect(
        r.tags.some((t) => /^T\d{4}(\.\d{3})?$/.test(t)),
        r.name,
      ).toBe(true);
      expect(r.desc.length, r.name).toBeGreaterThan(80);
    }
  });

  it('pass their rule tests, and every rule has a firing case and a quiet case', () => {
    const run = runRuleTests([RULES], [RULES]);
    expect(ruleTestText(run)).toMatch(/\n\d+ passed, 0 failed\n$/);
    expect(run.failed).toBe(0);
    const file = readRuleTestFile(`${RULES}/peregrine_rules.test.yaml`);
    for (const r of loadRules([RULES]).rules) {
      const exp = file.cases.flatMap((c) => c.expect).filter((x) => x.rule === r.name);
      expect(
        exp.some((x) => x.fires),
        `${r.name} has a case where it fires`,
      ).toBe(true);
      expect(
        exp.some((x) => !x.fires),
        `${r.name} has a case where it stays quiet`,
      ).toBe(true);
    }
  });
});

describe('rules test runner', () => {
  const run = runRuleTests([`${FIX}failing.test.yaml`], [RULES]);
  const text = ruleTestText(run);
  const byName = new Map(run.cases.map((c) => [c.name, c]));

  it('reports each failure with a readable diff and a summary', () => {
    expect(run.passed).toBe(1);
    expect(run.failed).toBe(4);
    expect(byName.get('wrong count')!.failures).toEqual([
      "rule 'Read sensitive file'",
      '  - expected: fires 2 times',
      '  + actual:   fired 1 time',
    ]);
    expect(byName.get('wrong output field')!.failures).toEqual([
      "rule 'Read sensitive file' alert 1, output field 'proc.name'",
      '  - expected: "dog"',
      '  + actual:   "cat"',
    ]);
    expect(byName.get('unknown rule')!.failures[0]).toMatch(
      /rule 'Read sensitive files' is not in the loaded rules; did you mean 'Read sensitive file'/,
    );
    expect(byName.get('fires but should not')!.failures[1]).toBe('  - expected: does not fire');
    expect(text).toMatch(/✗ wrong count {2}\(.*failing\.test\.yaml:3\)/);
    expect(text).toMatch(/\n1 passed, 4 failed\n$/);
  });

  it('rejects a malformed test file with the path and line of each problem', () => {
    const bad = runRuleTests([`${FIX}bad-schema.test.yaml`], [RULES]);
    expect(bad.failed).toBe(1);
    const f = bad.cases[0].failures.join('\n');
    expect(f).toMatch(/bad-schema\.test\.yaml:2: cases\[0\]: give exactly one of "events"/);
    expect(f).toMatch(/bad-schema\.test\.yaml:4: cases\[0\]\.expect\[0\]\.count: /);
  });

  it('CLI: exit 1 on failures, --junit writes JUnit XML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peregrine-junit-'));
    const junit = join(dir, 'out.xml');
    const r = spawnSync(process.execPath, [`${ROOT}bin/peregrine.js`, 'rules', 'test', '--junit', junit, FIX], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/1 passed, 5 failed/);
    const xml = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(junit, 'utf8')) as {
      testsuites: {
        '@_tests': string;
        '@_failures': string;
        testsuite: Array<{ testcase: Array<{ '@_name': string; failure?: unknown }> }>;
      };
    };
    expect(xml.testsuites['@_tests']).toBe('6');
    expect(xml.testsuites['@_failures']).toBe('5');
    const cases = xml.testsuites.testsuite.flatMap((s) => (Array.isArray(s.testcase) ? s.testcase : [s.testcase]));
    expect(cases.find((c) => c['@_name'] === 'passes')!.failure).toBeUndefined();
    expect(cases.find((c) => c['@_name'] === 'wrong count')!.failure).toBeDefined();
    const ok = spawnSync(process.execPath, [`${ROOT}bin/peregrine.js`, 'rules', 'test', RULES], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
  });
});
