import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ioErrorText } from '../event/index.js';

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const FieldExpectation = z.union([
  Scalar,
  z.array(z.union([z.string(), z.number()])),
  z.object({ matches: z.string().min(1) }).strict(),
]);

const Expectation = z
  .object({
    rule: z.string().min(1),
    fires: z.boolean().default(true),
    count: z.number().int().nonnegative().optional(),
    output_fields: z.record(z.string(), FieldExpectation).optional(),
  })
  .strict();

const RuleMatching = z.enum(['first', 'all']);

const Case = z
  .object({
    name: z.string().min(1),
    rules: z.array(z.string().min(1)).min(1).optional(),
    rule_matching: RuleMatching.optional(),
    events: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
    events_file: z.string().min(1).optional(),
    expect: z.array(Expectation).min(1),
  })
  .strict()
  .refine((c) => (c.events === undefined) !== (c.events_file === undefined), {
    message: 'give exactly one of "events" (a list of flat events) or "events_file" (JSON Lines)',
  });

const TestFile = z
  .object({
    rules: z.array(z.string().min(1)).min(1).optional(),
    rule_matching: RuleMatching.optional(),
    cases: z.array(Case).min(1),
  })
  .strict();

export type RuleTestExpectation = z.infer<typeof Expectation>;
export type RuleTestCase = z.infer<typeof Case> & { readonly line: number };
export interface RuleTestFile {
  readonly path: string;
  readonly rules?: readonly string[];
  readonly ruleMatching?: 'first' | 'all';
  readonly cases: readonly RuleTestCase[];
}

/** A test file that cannot be read: every problem with file:line and its path in the document. */
export class RuleTestFileError extends Error {
  constructor(
    readonly path: string,
    readonly problems: readonly string[],
  ) {
    super(problems.join('\n'));
    this.name = 'RuleTestFileError';
  }
}

/**
 * Reads a rule test file (YAML). Format:
 * ```yaml
 * rules: [my_rules.yaml]          # optional; relative to this file; default: the bundled rules
 * rule_matching: all              # optional: first (Falco's default) or all
 * cases:
 *   - name: fires on the attack
 *     events: [{evt.type: openat, fd.name: /etc/shadow, ...}]   # or events_file: x.jsonl
 *     expect:
 *       - rule: Read sensitive file
 *         count: 1                # optional; `fires: false` expects none
 *         output_fields: {fd.name: /etc/shadow, proc.cmdline: {matches: "^cat "}}
 * ```
 */
export function readRuleTestFile(path: string): RuleTestFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RuleTestFileError(path, [`${path}: cannot read: ${ioErrorText(err)}`]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length) {
    throw new RuleTestFileError(
      path,
      doc.errors.map((e) => {
        const p = lc.linePos(e.pos[0]);
        return `${path}:${p.line}:${p.col}: invalid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const lineOf = (segs: ReadonlyArray<PropertyKey>): number => {
    for (let n = segs.length; n >= 0; n--) {
      const node = doc.getIn(segs.slice(0, n) as Array<string | number>, true) as
        { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line;
    }
    return 1;
  };
  const parsed = TestFile.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new RuleTestFileError(
      path,
      parsed.error.issues.map((i) => {
        const where = i.path
          .map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`))
          .join('')
          .replace(/^\./, '');
        return `${path}:${lineOf(i.path)}: ${where || '(top level)'}: ${i.message}`;
      }),
    );
  }
  return {
    path,
    rules: parsed.data.rules,
    ruleMatching: parsed.data.rule_matching,
    cases: parsed.data.cases.map((c, i) => ({ ...c, line: lineOf(['cases', i]) })),
  };
}
