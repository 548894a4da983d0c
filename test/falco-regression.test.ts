/**
 * Falco's own regression suite (falcosecurity/falco test/falco_tests*.yaml, the tests whose
 * traces are available as JSON Lines) run through Peregrine's engine.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alertToJson, parsePriority, priorityRank, type Alert } from '../src/event/index.js';
import { UPSTREAM, UPSTREAM_RULES, countByRule, loadRules, requireUpstream, runTrace } from './helpers/upstream.js';

requireUpstream();
const REG = `${UPSTREAM}regression/`;

interface FalcoTest {
  test: string;
  detect: boolean;
  detect_level?: string | string[];
  rules_file?: string[];
  events: string | null;
  priority?: string;
  detect_counts?: Array<Record<string, number>>;
  disabled_rules?: string[];
  run_tags?: string[];
  disable_tags?: string[];
  stdout_contains?: string;
  time_iso_8601?: boolean;
  json_output?: boolean;
  json_include_output_property?: boolean;
  json_include_tags_property?: boolean;
  output_strictly_contains?: Array<Record<string, string>>;
  rules_warning?: string[];
  grpc?: unknown;
  conf_file?: string;
}

/** Tests that do not apply to a rule engine, each with the reason. */
const SKIPPED: Record<string, string> = {
  grpc_unix_socket_outputs:
    'Falco gRPC output server: an output channel, not the engine (the sources issue covers Falco gRPC as an input)',
  file_output_strict:
    "Falco's text file output (json_output: false); Peregrine's file sink writes Falco JSON alerts whose `output` is this text, checked by stdout_output_strict",
  program_output_strict:
    'Falco program output channel (pipes alerts to a command); Peregrine has no program sink; the content is checked by stdout_output_strict',
  json_output_no_output_property:
    'Falco output config option json_include_output_property; Peregrine alerts always carry "output"',
  json_output_no_tags_property:
    'Falco output config option json_include_tags_property; Peregrine alerts always carry "tags"',
};

const tests = JSON.parse(readFileSync(`${REG}tests-on-available-traces.json`, 'utf8')) as FalcoTest[];

/** Falco's text output line for an alert (time prefix in ISO 8601 when the test asks). */
function textLine(a: Alert, iso: boolean): string {
  const body = a.output.slice(a.output.indexOf(': ') + 2);
  const t = iso ? a.time.replace('Z', '+0000') : a.output.slice(0, a.output.indexOf(': '));
  return `${t}: ${body}`;
}

describe('Falco regression suite', () => {
  it('covers all 82 tests: each is run, or named in SKIPPED with the reason it does not apply', () => {
    expect(tests.length).toBe(82);
    const names = new Set(tests.map((t) => t.test));
    for (const name of Object.keys(SKIPPED)) expect(names.has(name), name).toBe(true);
    expect(tests.length - Object.keys(SKIPPED).length).toBe(77);
  });

  for (const t of tests) {
    if (SKIPPED[t.test]) continue; // listed and checked below
    it(t.test, () => {
      const rulesFiles = t.rules_file ? t.rules_file.map((f) => `${REG}${f}`) : [UPSTREAM_RULES[0]];
      const load = loadRules(rulesFiles);
      expect(load.diagnostics.errors).toEqual([]);
      if (t.test === 'builtin_rules_no_warnings') {
        expect(load.diagnostics.warnings).toEqual([]);
        return;
      }
      const alerts = runTrace(load, `${REG}${t.events}`, {
        selection: {
          minPriority: t.priority ? parsePriority(t.priority) : undefined,
          disabledRules: t.disabled_rules,
          runTags: t.run_tags,
          disableTags: t.disable_tags,
        },
      });
      if (!t.detect) {
        expect(alerts.map((a) => a.rule)).toEqual([]);
        return;
      }
      expect(alerts.length).toBeGreaterThan(0);
      const levels = (Array.isArray(t.detect_level) ? t.detect_level : [t.detect_level ?? 'Debug']).map((l) =>
        parsePriority(l)!,
      );
      // Falco's harness: every detect_level is seen at least once... when it is a list it means "any of"
      const minRank = Math.max(...levels.map(priorityRank));
      expect(alerts.some((a) => priorityRank(a.priority) <= minRank)).toBe(true);
      const counts = countByRule(alerts);
      for (const entry of t.detect_counts ?? []) {
        for (const [rule, n] of Object.entries(entry)) expect({ rule, n: counts.get(rule) ?? 0 }).toEqual({ rule, n });
      }
      if (t.stdout_contains) {
        const re = new RegExp(t.stdout_contains, 'm');
        const out = t.json_output
          ? alerts.map((a) => alertToJson(a)).join('\n')
          : alerts.map((a) => textLine(a, !!t.time_iso_8601)).join('\n');
        expect(out).toMatch(re);
      }
      for (const o of t.output_strictly_contains ?? []) {
        const expected = readFileSync(`${REG}${Object.values(o)[0]}`, 'utf8')
          .split('\n')
          .filter(Boolean);
        if (t.json_output) {
          const got = alerts.map((a) => ({
            rule: a.rule,
            priority: a.priority,
            tags: a.tags,
            time: a.time,
            hostname: a.hostname,
            output: textLine(a, true),
            fields: { ...a.output_fields, 'evt.time': undefined },
          }));
          const want = expected
            .map((l) => JSON.parse(l.replace(/:(\d{16,})/g, ':"$1"')) as Record<string, unknown>)
            .map((j) => ({
              rule: j.rule,
              priority: j.priority,
              tags: j.tags,
              time: j.time,
              hostname: j.hostname,
              output: j.output,
              fields: {
                ...(j.output_fields as Record<string, unknown>),
                'evt.time.iso8601': undefined,
                'evt.time': undefined,
              },
            }));
          for (const w of want) delete (w.fields as Record<string, unknown>)['evt.time.iso8601'];
          expect(got.map((g) => ({ ...g, fields: { ...g.fields } }))).toEqual(want);
        } else {
          expect(alerts.map((a) => textLine(a, true))).toEqual(expected);
        }
      }
    });
  }
});
