/**
 * Differential check against libsinsp (sysdig 0.29.3): every upstream macro and rule the oracle
 * recorded without ERROR must match the same events (macros: the same evt.num set; rules: the
 * same count) on every trace. Known differences are listed with the reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FieldKeyTable, FlatEventDecoder, type SyscallEvent } from '../src/event/index.js';
import { compileCondition, loadRules } from '../src/engine/index.js';
import { UPSTREAM, requireUpstream } from './helpers/upstream.js';

requireUpstream();

type Oracle = Record<string, Record<string, unknown>>;
const macros = JSON.parse(readFileSync(`${UPSTREAM}oracle/macro-matches.json`, 'utf8')) as Oracle;
const rules = JSON.parse(readFileSync(`${UPSTREAM}oracle/rule-matches.json`, 'utf8')) as Oracle;

/**
 * Cases where the JSON Lines cannot reproduce libsinsp's answer. Each is still run: the test
 * asserts that the difference is exactly the one explained here, and nothing else.
 */
const KNOWN_DIFFERENCES: Record<
  string,
  {
    reason: string;
    explains: (scap: string, missing: number[], extra: number[], byNum: (n: number) => SyscallEvent) => boolean;
  }
> = {
  'macro:interactive': {
    reason:
      'proc.aname (any ancestor): on psp/run_as_user_0_container libsinsp finds sshd above the 7 ancestor levels sysdig -j printed (proc.aname[1..7]); every missing event has all 7 printed levels and no sshd among them',
    explains: (scap, missing, extra, byNum) =>
      scap === 'falco/psp/run_as_user_0_container.scap' &&
      extra.length === 0 &&
      missing.every((n) => {
        const names = [1, 2, 3, 4, 5, 6, 7].map((i) => byNum(n).get(table, `proc.aname[${i}]`));
        return names.every((x) => typeof x === 'string') && !names.includes('sshd');
      }),
  },
  'macro:outbound': {
    reason:
      'event 229 of 502Error (sendmsg on an unconnected UDP socket): every field the JSON Lines carry satisfies the condition (udp, connected false, name_changed true, rawres 199, public server address); libsinsp 0.29.3 resolved the fd differently at evaluation time than the values it printed',
    explains: (scap, missing, extra) =>
      scap === 'sysdig-inspect/502Error.scap' && missing.length === 0 && extra.length === 1 && extra[0] === 229,
  },
};

const table = new FieldKeyTable();
const decoder = new FlatEventDecoder(table);
const traceCache = new Map<string, SyscallEvent[]>();
function trace(scap: string): SyscallEvent[] {
  let evs = traceCache.get(scap);
  if (!evs) {
    const file = `${UPSTREAM}traces/${scap.replace(/\.scap$/, '').replace(/\//g, '__')}.jsonl`;
    evs = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l, i) => decoder.decodeLine(l, i + 1));
    traceCache.set(scap, evs);
  }
  return evs;
}
const NUM = table.intern('evt.num');

describe('libsinsp oracle: macros (falco_rules.yaml)', () => {
  for (const [name, rec] of Object.entries(macros)) {
    if ('ERROR' in rec) continue;
    const known = KNOWN_DIFFERENCES[`macro:${name}`];
    it(`macro ${name}${known ? ` (known difference: ${known.reason})` : ''}`, () => {
      const { pred } = compileCondition(String(rec.condition), table);
      let differences = 0;
      for (const [scap, want] of Object.entries(rec)) {
        if (scap === 'condition') continue;
        const evs = trace(scap);
        const got = evs.filter(pred).map((e) => e.values[NUM] as number);
        const wantNums = want as number[];
        if (known) {
          const missing = wantNums.filter((n) => !got.includes(n));
          const extra = got.filter((n) => !wantNums.includes(n));
          if (missing.length || extra.length) {
            differences++;
            const byNum = (n: number): SyscallEvent => evs.find((e) => e.values[NUM] === n)!;
            expect({ scap, explained: known.explains(scap, missing, extra, byNum) }).toEqual({ scap, explained: true });
          }
          continue;
        }
        expect({ scap, nums: got }).toEqual({ scap, nums: want });
      }
      if (known)
        expect(differences, 'the known difference still exists (else remove it from KNOWN_DIFFERENCES)').toBe(1);
    });
  }
});

const FILES: Record<string, string> = {
  falco_rules: 'falco_rules.yaml',
  'falco-incubating_rules': 'falco-incubating_rules.yaml',
  'falco-sandbox_rules': 'falco-sandbox_rules.yaml',
};

describe('libsinsp oracle: rules', () => {
  const loads = new Map(Object.entries(FILES).map(([k, f]) => [k, loadRules([`${UPSTREAM}rules/${f}`], table)]));
  for (const [key, rec] of Object.entries(rules)) {
    if ('ERROR' in rec) continue;
    const [file, ruleName] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    it(`rule ${key}`, () => {
      const load = loads.get(file)!;
      const rule = load.rules.find((r) => r.name === ruleName);
      expect(rule, `rule ${ruleName} compiled`).toBeDefined();
      for (const [scap, want] of Object.entries(rec)) {
        const got = trace(scap).filter(rule!.pred).length;
        expect({ scap, count: got }).toEqual({ scap, count: want });
      }
    });
  }
});
