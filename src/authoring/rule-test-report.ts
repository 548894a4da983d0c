import { XMLBuilder } from 'fast-xml-parser';
import type { RuleTestRun } from './rule-test-runner.js';

/** The readable report: one line per case, the diff of each failure, and a summary line. */
export function ruleTestText(run: RuleTestRun): string {
  const lines: string[] = [];
  let file = '';
  for (const c of run.cases) {
    if (c.file !== file) {
      file = c.file;
      lines.push(file);
    }
    lines.push(`  ${c.failures.length ? '✗' : '✓'} ${c.name}${c.failures.length ? `  (${c.file}:${c.line})` : ''}`);
    for (const f of c.failures) lines.push(...f.split('\n').map((l) => `      ${l}`));
  }
  lines.push('', `${run.passed} passed, ${run.failed} failed`);
  return lines.join('\n') + '\n';
}

/** JUnit XML (one testsuite per test file, one testcase per case) for CI systems. */
export function ruleTestJunit(run: RuleTestRun): string {
  const byFile = new Map<string, RuleTestRun['cases'][number][]>();
  for (const c of run.cases) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
  const suites = [...byFile].map(([file, cases]) => ({
    '@_name': file,
    '@_tests': cases.length,
    '@_failures': cases.filter((c) => c.failures.length).length,
    '@_time': (cases.reduce((s, c) => s + c.durationMs, 0) / 1000).toFixed(3),
    testcase: cases.map((c) => ({
      '@_name': c.name,
      '@_classname': file,
      '@_file': file,
      '@_line': c.line,
      '@_time': (c.durationMs / 1000).toFixed(3),
      ...(c.failures.length ? { failure: { '@_message': c.failures[0], '#text': c.failures.join('\n') } } : {}),
    })),
  }));
  const builder = new XMLBuilder({ ignoreAttributes: false, format: true, suppressEmptyNode: true });
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    builder.build({
      testsuites: {
        '@_name': 'peregrine rules test',
        '@_tests': run.cases.length,
        '@_failures': run.failed,
        testsuite: suites,
      },
    })
  );
}
