import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Expr } from './ast.js';
import { ConditionError } from './condition-error.js';
import { MAX_DEPTH, parseCondition } from './parser.js';
import { printCondition } from './printer.js';

/** The tree without spans, for comparing parses. */
function strip(e: unknown): unknown {
  if (Array.isArray(e)) return e.map(strip);
  if (e && typeof e === 'object') {
    return Object.fromEntries(
      Object.entries(e)
        .filter(([k]) => k !== 'span')
        .map(([k, v]) => [k, strip(v)]),
    );
  }
  return e;
}

describe('parser: value forms', () => {
  it('reads bare values such as runc:[0:PARENT] and a lone backslash before )', () => {
    const e = parseCondition('proc.pname = runc:[0:PARENT] or (proc.args endswith \\)') as Extract<
      Expr,
      { kind: 'or' }
    >;
    expect(strip(e.items[0])).toMatchObject({
      kind: 'check',
      op: '=',
      right: { text: 'runc:[0:PARENT]', quoted: false },
    });
    expect(strip(e.items[1])).toMatchObject({ op: 'endswith', right: { text: '\\', quoted: false } });
  });
  it('unescapes quoted strings and keeps unknown escapes as written', () => {
    const e = parseCondition('proc.cmdline = "sh -c envdir \\"/run/etc\\" x" and proc.args contains "\\ "') as Extract<
      Expr,
      { kind: 'and' }
    >;
    expect(strip(e.items[0])).toMatchObject({ right: { text: 'sh -c envdir "/run/etc" x', quoted: true } });
    expect(strip(e.items[1])).toMatchObject({ right: { text: '\\ ', quoted: true } });
  });
  it('reads lists with quoted and bare items, integers and empty lists', () => {
    const e = parseCondition(`fd.sport in (80, "443", 'x y', list_name) and proc.name in ()`) as Extract<
      Expr,
      { kind: 'and' }
    >;
    expect(strip(e.items[0])).toMatchObject({
      op: 'in',
      right: {
        kind: 'list',
        items: [{ text: '80' }, { text: '443', quoted: true }, { text: 'x y' }, { text: 'list_name', quoted: false }],
      },
    });
    expect(strip(e.items[1])).toMatchObject({ right: { kind: 'list', items: [] } });
  });
  it('reads field arguments, transformers and val()', () => {
    const e = parseCondition(
      'tolower(proc.aname[2]) = val(proc.name) and container.mount.dest[/proc*] exists and len(proc.args) > 3',
    ) as Extract<Expr, { kind: 'and' }>;
    expect(strip(e.items[0])).toMatchObject({
      left: { kind: 'transform', fn: 'tolower', operand: { name: 'proc.aname', arg: '2' } },
      right: { kind: 'operand', operand: { name: 'proc.name' } },
    });
    expect(strip(e.items[1])).toMatchObject({ left: { name: 'container.mount.dest', arg: '/proc*' }, op: 'exists' });
    expect(strip(e.items[2])).toMatchObject({ left: { fn: 'len' }, op: '>' });
  });
  it('parses every operator', () => {
    for (const op of [
      '=',
      '==',
      '!=',
      '<',
      '<=',
      '>',
      '>=',
      'contains',
      'icontains',
      'bcontains',
      'startswith',
      'bstartswith',
      'endswith',
      'glob',
      'iglob',
      'regex',
    ]) {
      expect(strip(parseCondition(`proc.name ${op} x`))).toMatchObject({ op });
    }
    for (const op of ['in', 'intersects', 'pmatch'])
      expect(strip(parseCondition(`proc.name ${op} (a, b)`))).toMatchObject({ op });
  });
  it('binds not tighter than and, and tighter than or', () => {
    expect(printCondition(parseCondition('not a and b or c'))).toBe('((not a and b) or c)');
    expect(printCondition(parseCondition('not(a) and not not b'))).toBe('(not a and not not b)');
  });
});

describe('parser: errors say where and what', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['(proc.name = a', 0, /missing '\)'/],
    ['proc.name = a)', 13, /unbalanced '\)'/],
    ['proc.name', 9, /expected an operator/],
    ['proc.name = "abc', 12, /unterminated string/],
    ['proc.name in a b', 15, /expected 'and', 'or'/],
    ['', 0, /empty/],
    ['and x', 0, /unexpected keyword 'and'/],
  ];
  for (const [text, offset, msg] of cases) {
    it(JSON.stringify(text), () => {
      try {
        parseCondition(text);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ConditionError);
        expect((err as ConditionError).message).toMatch(msg);
        expect((err as ConditionError).start).toBe(offset);
      }
    });
  }
  it('bounds nesting depth with a diagnostic instead of a stack overflow', () => {
    const deep = '('.repeat(MAX_DEPTH + 5) + 'a' + ')'.repeat(MAX_DEPTH + 5);
    expect(() => parseCondition(deep)).toThrow(/nested deeper than/);
    const deepNot = 'not '.repeat(100_000) + 'a';
    expect(() => parseCondition(deepNot)).toThrow(ConditionError);
  });
  it('is linear on a huge flat condition', () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `proc.name = p${i}`).join(' or ');
    const e = parseCondition(big) as Extract<Expr, { kind: 'or' }>;
    expect(e.items.length).toBe(20_000);
  });
});

describe('parser: properties', () => {
  it('never throws anything but ConditionError on arbitrary input', () => {
    const alphabet = fc.constantFrom(
      '(',
      ')',
      ' ',
      '"',
      "'",
      '\\',
      'a',
      'proc.name',
      'and',
      'or',
      'not',
      '=',
      'in',
      ',',
      '[',
      ']',
      'x',
      '1',
      'exists',
      'tolower(',
      'val(',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(alphabet, { maxLength: 30 }).map((a) => a.join('')),
        ),
        (s) => {
          try {
            parseCondition(s);
          } catch (err) {
            if (!(err instanceof ConditionError)) throw err;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  const value = fc.oneof(
    fc
      .stringMatching(/^[a-z0-9/_:.*-]{1,8}$/)
      .filter((s) => !['and', 'or', 'not'].includes(s))
      .map((text) => ({ text, quoted: false })),
    fc.string({ maxLength: 6 }).map((text) => ({ text, quoted: true })),
  );
  const field = fc.constantFrom(
    'proc.name',
    'fd.name',
    'proc.aname[2]',
    'evt.arg.flags',
    'container.mount.dest[/proc*]',
  );
  const check = fc.oneof(
    fc
      .tuple(field, fc.constantFrom('=', '!=', 'contains', 'startswith', 'glob', '<='), value)
      .map(([f, op, v]) => `${f} ${op} ${v.quoted ? JSON.stringify(v.text) : v.text}`),
    fc
      .tuple(field, fc.array(value, { maxLength: 3 }))
      .map(([f, vs]) => `${f} in (${vs.map((v) => (v.quoted ? JSON.stringify(v.text) : v.text)).join(', ')})`),
    field.map((f) => `${f} exists`),
    fc.constantFrom('some_macro', 'other_macro'),
  );
  const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      check,
      fc.tuple(tie('e'), fc.constantFrom('and', 'or'), tie('e')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
      tie('e').map((a) => `not (${a})`),
    ),
  })).e;

  it('print then parse gives the same tree', () => {
    fc.assert(
      fc.property(expr, (s) => {
        const tree = parseCondition(s);
        expect(strip(parseCondition(printCondition(tree)))).toEqual(strip(tree));
      }),
      { numRuns: 1000 },
    );
  });
});
