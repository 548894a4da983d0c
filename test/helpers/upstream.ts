import { existsSync, readFileSync } from 'node:fs';
import { FALCO_REFERENCE, FALCO_UPSTREAM_RULES } from '../../src/defaults.js';
import { FlatEventDecoder, type Alert } from '../../src/event/index.js';
import { Engine, loadRules, type EngineOptions, type LoadResult } from '../../src/engine/index.js';

/** Falco's reference material (`PEREGRINE_FALCO_REFERENCE`, default `../shared/falco-upstream`; read-only). */
export const UPSTREAM = FALCO_REFERENCE;
export const UPSTREAM_RULES = FALCO_UPSTREAM_RULES;

/** Fails loudly (never skips) when the shared reference material is absent. */
export function requireUpstream(): void {
  if (!existsSync(UPSTREAM))
    throw new Error(
      `Falco reference material not found at ${UPSTREAM}: set PEREGRINE_FALCO_REFERENCE to where it is, or rebuild it as CONTRIBUTING.md says`,
    );
}

/** Runs a JSON Lines trace through an engine; returns the alerts. */
export function runTrace(load: LoadResult, tracePath: string, opts: EngineOptions = {}): Alert[] {
  const engine = new Engine(load, { hostname: 'test-falco-hostname', ...opts });
  const decoder = new FlatEventDecoder(load.table);
  const alerts: Alert[] = [];
  const lines = readFileSync(tracePath, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const ev = decoder.decodeLine(line, i + 1);
    engine.evaluate(ev, (r) => alerts.push(engine.alert(r, ev)));
  });
  return alerts;
}

export function countByRule(alerts: readonly Alert[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of alerts) m.set(a.rule, (m.get(a.rule) ?? 0) + 1);
  return m;
}

export { loadRules };
