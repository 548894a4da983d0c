/**
 * docs/sensor.md's table of fields stays complete: every field in a condition of Falco's three
 * upstream rule files has a row saying whether the sensor fills it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseCondition, walk, type Operand } from '../src/lang/index.js';
import { FieldCatalog } from '../src/event/index.js';
import { UPSTREAM, requireUpstream } from './helpers/upstream.js';

const FILES = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'];

function upstreamFields(): Set<string> {
  requireUpstream();
  const out = new Set<string>();
  const add = (o: Operand): void => {
    let x = o;
    while (x.kind === 'transform') x = x.operand;
    out.add(x.name);
  };
  for (const f of FILES) {
    const items = parse(readFileSync(join(UPSTREAM, 'rules', f), 'utf8')) as Array<{ condition?: unknown }>;
    for (const item of items) {
      if (typeof item.condition !== 'string') continue;
      walk(parseCondition(item.condition), (e) => {
        if (e.kind !== 'check') return;
        add(e.left);
        if (e.right?.kind === 'operand') add(e.right.operand);
      });
    }
  }
  return out;
}

describe('docs/sensor.md', () => {
  it('has a row for every field in the upstream rule files, each a field Peregrine knows', () => {
    const doc = readFileSync(new URL('../docs/sensor.md', import.meta.url), 'utf8');
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `([^`]+)` +\| [FIS]+ +\| (yes|no|agent) +\|/gm)) rows.set(m[1], m[2]);
    const fields = upstreamFields();
    expect(fields.size).toBeGreaterThan(50);
    expect([...fields].filter((f) => !rows.has(f))).toEqual([]);
    expect([...rows.keys()].filter((f) => !fields.has(f))).toEqual([]);
    const catalog = new FieldCatalog();
    for (const f of rows.keys()) expect(catalog.resolve(f), f).toBeDefined();
  });
});
