import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { peregrine } from './helpers/cli.js';
import { UPSTREAM, UPSTREAM_RULES, requireUpstream } from './helpers/upstream.js';

requireUpstream();

describe('peregrine CLI (built binary)', () => {
  it('--help lists every command with one line each', () => {
    const r = peregrine(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['run', 'replay', 'rules validate', 'rules list', 'fields', 'plugins list'])
      expect(r.out).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
  });

  it('a command group has its own help: `rules --help` lists its commands (exit 0); bare `rules` too (exit 2)', () => {
    const h = peregrine(['rules', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^peregrine rules — /);
    for (const c of ['validate', 'list', 'test', 'lint', 'explain'])
      expect(h.out).toMatch(new RegExp(`^  rules ${c} +\\S`, 'm'));
    expect(h.out).not.toMatch(/^ {2}run /m);
    const bare = peregrine(['rules']);
    expect([bare.code, bare.out]).toEqual([2, h.out]);
    expect(peregrine(['config', '--help']).out).toMatch(/^ {2}config validate +\S/m);
    expect(peregrine(['rulez']).err).toMatch(/unknown command 'rulez'/);
  });

  it('rules validate --json: the three upstream files together, zero errors, 93 rules', () => {
    const r = peregrine(['rules', 'validate', '--json', ...UPSTREAM_RULES]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    expect(j).toMatchObject({ rules: 93, errors: [], warnings: [] });
    expect(Object.keys(j)).toEqual(['files', 'rules', 'macros', 'lists', 'errors', 'warnings']);
  });

  it('each upstream file alone validates with zero errors', () => {
    for (const f of UPSTREAM_RULES) expect(peregrine(['rules', 'validate', f]).code).toBe(0);
  });

  it('rules validate exits 1 on errors (with file:line:column and a code frame) and 2 on bad usage', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peregrine-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(
      f,
      '- rule: r\n  desc: d\n  condition: evt.type=open and proc.nam=x\n  output: o\n  priority: info\n',
    );
    const r = peregrine(['rules', 'validate', f]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${f}:3:32: error LOAD_ERR_COMPILE_CONDITION: unknown field 'proc.nam'`);
    expect(r.out).toMatch(/\^{8}/);
    const j = JSON.parse(peregrine(['rules', 'validate', '--json', f]).out) as {
      errors: Array<Record<string, unknown>>;
    };
    expect(j.errors[0]).toMatchObject({
      file: f,
      line: 3,
      column: 32,
      code: 'LOAD_ERR_COMPILE_CONDITION',
      itemKind: 'rule',
      itemName: 'r',
    });
    expect(peregrine(['rules', 'validate']).code).toBe(2);
    expect(peregrine(['rules', 'validate', '--bogus', f]).code).toBe(2);
  });

  it('rules list shows priority, enabled and event types', () => {
    const r = peregrine(['rules', 'list', '--json', UPSTREAM_RULES[2]]);
    const rows = JSON.parse(r.out) as Array<{ enabled: boolean; eventTypes: unknown }>;
    expect(rows.length).toBe(37);
    expect(rows.filter((x) => !x.enabled).length).toBe(12);
  });

  it('replay prints Falco JSON alerts, honours --append-field and summarises bad lines on stderr', () => {
    const trace = `${UPSTREAM}traces/falco__cat_write.jsonl`;
    const input = `not json\n${readFileSync(trace, 'utf8')}`;
    const r = peregrine(
      [
        'replay',
        '--rules',
        `${UPSTREAM}regression/rules/single_rule.yaml`,
        '--events',
        '-',
        '--append-field',
        'proc.pid',
        '--hostname',
        'h1',
      ],
      input,
    );
    expect(r.code).toBe(0);
    const alerts = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(alerts.length).toBe(8);
    expect(Object.keys(alerts[0])).toEqual([
      'hostname',
      'output',
      'priority',
      'rule',
      'source',
      'tags',
      'time',
      'output_fields',
    ]);
    expect(alerts[0]).toMatchObject({
      hostname: 'h1',
      rule: 'open_from_cat',
      priority: 'Warning',
      source: 'syscall',
      time: '2016-08-04T16:17:57.881781397Z',
    });
    expect(alerts[0].output_fields).toMatchObject({ 'proc.cmdline': 'cat /dev/null', 'proc.pid': 20072 });
    expect(r.out).toContain('"evt.time":1470327477881781397');
    expect(r.err).toMatch(/skipping bad event at -:line 1: not valid JSON/);
    expect(r.err).toMatch(/"events":85,"badLines":1,"alerts":8/);
  });

  it('replay --strict stops at the first bad line; --rule-matching all versus first', () => {
    const rules = `${UPSTREAM}regression/rules/catchall_order.yaml`;
    const trace = `${UPSTREAM}traces/falco__cat_write.jsonl`;
    expect(peregrine(['replay', '--rules', rules, '--events', '-', '--strict'], '{"evt.type":\n').code).toBe(1);
    const first = peregrine(['replay', '--rules', rules, '--events', trace]).out.trim().split('\n');
    const all = peregrine(['replay', '--rules', rules, '--events', trace, '--rule-matching', 'all'])
      .out.trim()
      .split('\n');
    expect(first.length).toBe(7);
    expect(all.length).toBe(8);
    expect(peregrine(['replay', '--rules', rules, '--events', trace, '--rule-matching', 'some']).code).toBe(2);
    expect(peregrine(['replay', '--rules', rules, '--events', '/nonexistent']).code).toBe(1);
  });
});
