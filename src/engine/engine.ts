import { hostname as osHostname } from 'node:os';
import {
  atLeast,
  isoNanos,
  type Alert,
  type AlertFieldValue,
  type Priority,
  type SyscallEvent,
} from '../event/index.js';
import { hasType } from '../lang/index.js';
import type { CompiledRule } from './compiled-rule.js';
import { OutputFormat } from './output-format.js';
import type { LoadResult } from './ruleset-compiler.js';

/** Falco's `rule_matching`: `first` stops at the first matching rule (one alert per event). */
export type RuleMatching = 'first' | 'all';

/** Which compiled rules run, as Falco's -D / -t / -T and `priority` options select them. */
export interface RuleSelection {
  /** Rules below this priority are not loaded. */
  readonly minPriority?: Priority;
  /** Rule names containing any of these substrings are disabled (Falco -D). */
  readonly disabledRules?: readonly string[];
  /** When set, only rules with at least one of these tags run (Falco -t). */
  readonly runTags?: readonly string[];
  /** Rules with any of these tags are disabled (Falco -T). */
  readonly disableTags?: readonly string[];
}

export interface EngineOptions {
  readonly ruleMatching?: RuleMatching;
  readonly selection?: RuleSelection;
  /** `hostname` in alerts; defaults to this machine's. */
  readonly hostname?: string;
  /** Fields added to every alert's `output_fields` (Falco's append_output.extra_fields). */
  readonly appendFields?: readonly string[];
  /**
   * Fields added to an alert's `output_fields` when the event has them and the rule's output did
   * not already: where it happened (pod, namespace, workload, container, image, node).
   */
  readonly contextFields?: readonly string[];
}

/**
 * The evaluator: compiled rules indexed by event type, run in load order. Immutable: a reload
 * builds a new Engine and swaps it in whole, so no event sees a half-loaded ruleset.
 */
export class Engine {
  readonly active: readonly CompiledRule[];
  readonly ruleMatching: RuleMatching;
  private readonly byType = new Map<string, CompiledRule[]>();
  private readonly other: CompiledRule[];
  private readonly host: string;
  private readonly extra: OutputFormat | undefined;
  private readonly context: OutputFormat | undefined;
  private readonly timeSlot: number;

  /**
   * The event types the active rules can match (Falco names, sorted), or undefined when some
   * rule can match any type (no `evt.type` restriction, or only negated ones): what a sensor
   * must capture for these rules, and no more.
   */
  eventTypes(): readonly string[] | undefined {
    const types = new Set<string>();
    for (const r of this.active) {
      if (r.types.neg) return undefined;
      for (const t of r.types.set) types.add(t);
    }
    return [...types].sort();
  }

  constructor(
    readonly load: LoadResult,
    opts: EngineOptions = {},
  ) {
    this.ruleMatching = opts.ruleMatching ?? 'first';
    this.host = opts.hostname ?? osHostname();
    this.active = load.rules.filter((r) => selected(r, opts.selection ?? {}));
    const types = new Set<string>();
    for (const r of this.active) for (const t of r.types.set) types.add(t);
    for (const t of types)
      this.byType.set(
        t,
        this.active.filter((r) => hasType(r.types, t)),
      );
    this.other = this.active.filter((r) => r.types.neg);
    this.extra = opts.appendFields?.length
      ? OutputFormat.compile(opts.appendFields.map((f) => `%${f}`).join(' '), load.table)
      : undefined;
    this.context = opts.contextFields?.length
      ? OutputFormat.compile(opts.contextFields.map((f) => `%${f}`).join(' '), load.table)
      : undefined;
    this.timeSlot = load.table.intern('evt.time');
  }

  /** The rules that may match events of `type`, in load order. */
  rulesFor(type: string): readonly CompiledRule[] {
    return this.byType.get(type) ?? this.other;
  }

  /**
   * Evaluates one event; calls `onMatch` for each matching rule (at most one with `first`).
   * Returns the number of matches.
   */
  evaluate(e: SyscallEvent, onMatch: (rule: CompiledRule) => void): number {
    // Hot path: one map lookup per event, then the indexed rules in order.
    const rules = this.byType.get(e.type) ?? this.other;
    const first = this.ruleMatching === 'first';
    let n = 0;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (r.pred(e)) {
        n++;
        onMatch(r);
        if (first) break;
      }
    }
    return n;
  }

  /** Builds Falco's JSON alert for a match. */
  alert(rule: CompiledRule, e: SyscallEvent): Alert {
    const t = e.values[this.timeSlot];
    const ns = typeof t === 'bigint' ? t : BigInt(Date.now()) * 1_000_000n;
    const iso = isoNanos(ns);
    const fields: Record<string, AlertFieldValue> = { 'evt.time': ns };
    rule.output.fields(e, fields);
    this.extra?.fields(e, fields);
    this.context?.presentFields(e, fields);
    return {
      hostname: this.host,
      output: `${iso.slice(11, 29)}: ${rule.priority} ${rule.output.render(e)}`,
      priority: rule.priority,
      rule: rule.name,
      source: rule.source,
      tags: rule.tags,
      time: iso,
      output_fields: fields,
    };
  }
}

function selected(r: CompiledRule, s: RuleSelection): boolean {
  if (!r.enabled) return false;
  if (s.minPriority && !atLeast(r.priority, s.minPriority)) return false;
  if (s.disabledRules?.some((d) => r.name.includes(d))) return false;
  if (s.runTags && !r.tags.some((t) => s.runTags!.includes(t))) return false;
  if (s.disableTags && r.tags.some((t) => s.disableTags!.includes(t))) return false;
  return true;
}
