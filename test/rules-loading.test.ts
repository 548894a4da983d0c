import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FlatEventDecoder } from '../src/event/index.js';
import { DiagnosticBag, formatDiagnostic } from '../src/lang/index.js';
import { readRuleFile } from '../src/rules/index.js';
import { Engine, compileRuleFiles, type LoadResult } from '../src/engine/index.js';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));

function load(...texts: Array<string | Uint8Array>): LoadResult {
  const bag = new DiagnosticBag();
  const files = texts.map((t, i) => readRuleFile(`f${i + 1}.yaml`, typeof t === 'string' ? Buffer.from(t) : t, bag));
  return compileRuleFiles(files, undefined, bag);
}

function fires(l: LoadResult, ev: Record<string, unknown>): string[] {
  const engine = new Engine(l, { ruleMatching: 'all', hostname: 'h' });
  const out: string[] = [];
  engine.evaluate(new FlatEventDecoder(l.table).decodeObject(ev, 1), (r) => out.push(r.name));
  return out;
}

const base = `
- list: bins
  items: [cat, "less"]
- macro: is_open
  condition: evt.type in (open, openat)
- rule: R
  desc: d
  condition: is_open and proc.name in (bins)
  output: "%proc.name opened %fd.name"
  priority: info
`;
const open = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  'evt.type': 'open',
  'proc.name': name,
  'fd.name': '/x',
  ...extra,
});

describe('items, append and override', () => {
  it('loads lists, macros and rules; priority is case-insensitive with the info alias', () => {
    const l = load(base);
    expect(l.ok).toBe(true);
    expect(l.rules[0].priority).toBe('Informational');
    expect(fires(l, open('less'))).toEqual(['R']);
    expect(fires(l, open('vi'))).toEqual([]);
  });
  it('legacy append on lists, macros and rules', () => {
    const l = load(
      base,
      `
- list: bins
  items: [vi]
  append: true
- macro: is_open
  condition: or evt.type = creat
  append: true
- rule: R
  condition: and fd.name != /secret
  append: true
`,
    );
    expect(l.diagnostics.errors).toEqual([]);
    expect(fires(l, open('vi'))).toEqual(['R']);
    expect(fires(l, { 'evt.type': 'creat', 'proc.name': 'cat', 'fd.name': '/y' })).toEqual(['R']);
    expect(fires(l, open('cat', { 'fd.name': '/secret' }))).toEqual([]);
  });
  it('override append and replace per key', () => {
    const l = load(
      base,
      `
- list: bins
  items: [vi]
  override: {items: replace}
- rule: R
  condition: and fd.name != /secret
  output: "(more)"
  priority: critical
  tags: [t1]
  override: {condition: append, output: append, priority: replace, tags: append}
`,
    );
    expect(l.diagnostics.errors).toEqual([]);
    expect(fires(l, open('cat'))).toEqual([]);
    expect(fires(l, open('vi'))).toEqual(['R']);
    const r = l.rules[0];
    expect([r.priority, r.tags]).toEqual(['Critical', ['t1']]);
    const engine = new Engine(l, { hostname: 'h' });
    const ev = new FlatEventDecoder(l.table).decodeObject(open('vi'), 1);
    expect(engine.alert(r, ev).output).toMatch(/vi opened \/x \(more\)$/);
  });
  it('a later definition replaces an earlier one and keeps its position', () => {
    const l = load(
      base +
        `
- rule: S
  desc: d
  condition: evt.type = open
  output: s
  priority: info
- rule: R
  desc: d2
  condition: evt.type = open and proc.name = vi
  output: r2
  priority: info
`,
    );
    expect(l.rules.map((r) => r.name)).toEqual(['R', 'S']);
    expect(fires(l, open('vi'))).toEqual(['R', 'S']);
  });
  it('enabled-only items toggle a rule', () => {
    const l = load(base, '- rule: R\n  enabled: false\n');
    expect(l.rules[0].enabled).toBe(false);
    expect(fires(l, open('cat'))).toEqual([]);
  });
  it('exceptions: tuples, single field with in/pmatch, quoted values, values appended later', () => {
    const l = load(
      base.replace(
        '  priority: info',
        `  priority: info
  exceptions:
    - name: by_name_and_file
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [cat, /tmp/]
        - [less, '"/var/log"']
    - name: by_dir
      fields: fd.directory
      comps: pmatch
      values: [/opt]
    - name: later
      fields: proc.name`,
      ),
      `
- rule: R
  exceptions:
    - name: later
      values: [less]
  override: {exceptions: append}
`,
    );
    expect(l.diagnostics.errors).toEqual([]);
    expect(fires(l, open('cat', { 'fd.name': '/tmp/a' }))).toEqual([]);
    expect(fires(l, open('cat', { 'fd.name': '/etc/a' }))).toEqual(['R']);
    expect(fires(l, open('cat', { 'fd.name': '/opt/x/y' }))).toEqual([]);
    expect(fires(l, open('less', { 'fd.name': '/etc/a' }))).toEqual([]);
  });
  it('rule_matching first stops at the first rule in load order', () => {
    const l = load(
      base + base.replace('- rule: R', '- rule: R2').replace(/- (list|macro): .*\n\s+(items|condition): .*\n/g, ''),
    );
    const engine = new Engine(l, { hostname: 'h' });
    const got: string[] = [];
    engine.evaluate(new FlatEventDecoder(l.table).decodeObject(open('cat'), 1), (r) => got.push(r.name));
    expect(got).toEqual(['R']);
  });
  it('missing fields print <NA> in text and null in JSON output_fields', () => {
    const l = load(base.replace('%fd.name', '%fd.name %proc.exe'));
    const engine = new Engine(l, { hostname: 'h' });
    const ev = new FlatEventDecoder(l.table).decodeObject(open('cat'), 1);
    const a = engine.alert(l.rules[0], ev);
    expect(a.output).toMatch(/cat opened \/x <NA>$/);
    expect(a.output_fields['proc.exe']).toBeNull();
  });
});

describe('diagnostics (golden)', () => {
  const bad: Record<string, string | Uint8Array> = {
    'broken-yaml': '- rule: x\n  desc: [unclosed\n',
    'not-a-sequence': 'rule: x\n',
    'unknown-key': base.replace('  priority: info', '  priority: info\n  prority: high'),
    'unknown-field': base.replace('proc.name in (bins)', 'proc.nmae in (bins)'),
    'unbalanced-parens': base.replace('is_open and proc.name in (bins)', '(is_open and proc.name in (bins)'),
    'undefined-macro': base.replace('is_open and', 'is_opened and'),
    'macro-loop':
      '- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: r\n  desc: d\n  condition: evt.type=open and a\n  output: o\n  priority: info\n',
    'list-loop':
      '- list: a\n  items: [open]\n- list: b\n  items: [a]\n- list: a\n  items: [b]\n- rule: r\n  desc: d\n  condition: evt.type in (a)\n  output: o\n  priority: info\n',
    'wrong-types':
      '- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: loud\n  enabled: maybe\n  tags: x\n',
    'missing-keys': '- rule: r\n  condition: evt.type=open\n',
    'dangling-append': '- macro: m\n  condition: evt.type=open\n  append: true\n',
    'bad-override': base + '- rule: R\n  condition: and x\n  override: {condition: prepend}\n',
    'no-evttype': '- rule: r\n  desc: d\n  condition: proc.name=x\n  output: o\n  priority: info\n',
    'unsafe-na':
      '- rule: r\n  desc: d\n  condition: evt.type=open and proc.name = <NA>\n  output: o\n  priority: info\n',
    'bad-output': '- rule: r\n  desc: d\n  condition: evt.type=open\n  output: "x %proc.nam y"\n  priority: info\n',
    'engine-version': '- required_engine_version: 99.0.0\n',
    'non-utf8': Uint8Array.from([...Buffer.from('- rule: r\n  desc: caf'), 0xe9, 0x0a]),
    'deep-nesting': `- rule: r\n  desc: d\n  condition: ${'('.repeat(400)}evt.type=open${')'.repeat(400)}\n  output: o\n  priority: info\n`,
    'folded-condition-error':
      '- rule: r\n  desc: d\n  condition: >\n    evt.type = open and\n    proc.name = x and\n    fd.nmae = y\n  output: o\n  priority: info\n',
  };
  for (const [name, text] of Object.entries(bad)) {
    it(name, () => {
      const l = load(text);
      const src = typeof text === 'string' ? text : '';
      const got = l.diagnostics.items.map((d) => formatDiagnostic(d, src)).join('\n') + '\n';
      expect(l.diagnostics.items.length).toBeGreaterThan(0);
      const file = `${GOLDEN}${name}.txt`;
      if (!existsSync(file) && process.env.CI !== 'true') writeFileSync(file, got);
      expect(got).toBe(readFileSync(file, 'utf8'));
    });
  }
});
