import type { DiagnosticBag, ItemKind, LoadCode, SourcePos } from '../lang/index.js';
import type { Definitions, RuleDef } from './definitions.js';
import type { ExceptionDef, ListItem, MacroItem, OverrideMode, RuleFile, RuleItem } from './rule-items.js';

const RULE_APPENDABLE = new Set(['condition', 'output', 'desc', 'tags', 'exceptions']);
const RULE_REPLACEABLE = new Set([
  'condition',
  'output',
  'desc',
  'priority',
  'tags',
  'exceptions',
  'enabled',
  'warn_evttypes',
  'skip-if-unknown-filter',
  'capture',
  'capture_duration',
]);

/**
 * Applies the items of rules files in order, as Falco's rule loader does: a later definition
 * replaces an earlier one (keeping its position), legacy `append: true` and `override`
 * (append/replace per key) extend earlier items, a rule with only `enabled` toggles it.
 * Problems go to `bag`; the item in error is skipped.
 */
export function collectDefinitions(files: readonly RuleFile[], bag: DiagnosticBag): Definitions {
  const defs: Definitions = {
    lists: new Map(),
    macros: new Map(),
    rules: new Map(),
    requiredEngineVersions: [],
    requiredPlugins: [],
  };
  const c = new Collector(defs, bag);
  for (const f of files) {
    for (const item of f.items) {
      switch (item.kind) {
        case 'required_engine_version':
          defs.requiredEngineVersions.push({ value: item.version, pos: item.pos });
          break;
        case 'required_plugin_versions':
          for (const p of item.plugins) defs.requiredPlugins.push({ value: p, pos: item.pos });
          break;
        case 'list':
          c.list(item);
          break;
        case 'macro':
          c.macro(item);
          break;
        case 'rule':
          c.rule(item);
          break;
      }
    }
  }
  return defs;
}

class Collector {
  constructor(
    private readonly defs: Definitions,
    private readonly bag: DiagnosticBag,
  ) {}

  private error(pos: SourcePos, kind: ItemKind, name: string, code: LoadCode, message: string): void {
    this.bag.add({ severity: 'error', code, message, ...pos, itemKind: kind, itemName: name });
  }

  /** Validates `append`/`override` use; returns the mode per key, or undefined on error. */
  private modes(
    item: ListItem | MacroItem | RuleItem,
    kind: ItemKind,
    allowedAppend: ReadonlySet<string>,
    allowedReplace: ReadonlySet<string>,
  ): Map<string, OverrideMode> | 'define' | undefined {
    if (item.append && item.override) {
      this.error(
        item.pos,
        kind,
        item.name,
        'LOAD_ERR_YAML_VALIDATE',
        `'append' and 'override' cannot be used together: keep only 'override'`,
      );
      return undefined;
    }
    if (!item.override) return item.append ? new Map() : 'define';
    const own = new Set([...item.keys].filter((k) => k !== kind && k !== 'override' && k !== 'append'));
    let ok = true;
    for (const [k, mode] of item.override) {
      const allowed = mode === 'append' ? allowedAppend : allowedReplace;
      if (!allowed.has(k)) {
        this.error(
          item.pos,
          kind,
          item.name,
          'LOAD_ERR_YAML_VALIDATE',
          `key '${k}' cannot be overridden with '${mode}' in a ${kind}; allowed: ${[...allowed].join(', ')}`,
        );
        ok = false;
      } else if (!own.has(k)) {
        this.error(
          item.pos,
          kind,
          item.name,
          'LOAD_ERR_YAML_VALIDATE',
          `key '${k}' has an override but no value: add '${k}:' to the item`,
        );
        ok = false;
      }
    }
    for (const k of own) {
      if (!item.override.has(k)) {
        this.error(
          item.pos,
          kind,
          item.name,
          'LOAD_ERR_YAML_VALIDATE',
          `key '${k}' has no override: add '${k}: append' or '${k}: replace' under 'override'`,
        );
        ok = false;
      }
    }
    return ok ? new Map(item.override) : undefined;
  }

  list(item: ListItem): void {
    const lists = this.defs.lists;
    const m = this.modes(item, 'list', new Set(['items']), new Set(['items']));
    if (m === undefined) return;
    const prev = lists.get(item.name);
    if (m === 'define') {
      if (item.items === undefined) {
        this.error(
          item.pos,
          'list',
          item.name,
          'LOAD_ERR_YAML_VALIDATE',
          `list '${item.name}' has no 'items': add items: [...]`,
        );
        return;
      }
      if (prev) {
        prev.items = [...item.items];
        prev.pos = item.pos;
        prev.visibility = lists.size;
      } else
        lists.set(item.name, {
          name: item.name,
          items: [...item.items],
          pos: item.pos,
          index: lists.size,
          visibility: lists.size + 1,
        });
      return;
    }
    if (!prev) {
      this.error(
        item.pos,
        'list',
        item.name,
        'LOAD_ERR_VALIDATE',
        `List has 'append' key but no list by that name already exists: define list '${item.name}' in an earlier file or item`,
      );
      return;
    }
    const mode = item.append ? 'append' : m.get('items');
    if (mode === 'replace') prev.items = [...(item.items ?? [])];
    else for (const x of item.items ?? []) prev.items.push(x); // a loop: spreading 100k+ items overflows the stack
  }

  macro(item: MacroItem): void {
    const macros = this.defs.macros;
    const m = this.modes(item, 'macro', new Set(['condition']), new Set(['condition']));
    if (m === undefined) return;
    const prev = macros.get(item.name);
    if (m === 'define') {
      if (item.condition === undefined) {
        this.error(
          item.pos,
          'macro',
          item.name,
          'LOAD_ERR_YAML_VALIDATE',
          `macro '${item.name}' has no 'condition': add condition: ...`,
        );
        return;
      }
      if (prev) {
        prev.condition = item.condition;
        prev.pos = item.pos;
      } else macros.set(item.name, { name: item.name, condition: item.condition, pos: item.pos, index: macros.size });
      return;
    }
    if (!prev) {
      this.error(
        item.pos,
        'macro',
        item.name,
        'LOAD_ERR_VALIDATE',
        "Macro has 'append' key but no macro by that name already exists",
      );
      return;
    }
    if (!item.condition) {
      this.error(
        item.pos,
        'macro',
        item.name,
        'LOAD_ERR_VALIDATE',
        `appending to macro '${item.name}' needs a 'condition'`,
      );
      return;
    }
    const mode = item.append ? 'append' : m.get('condition');
    prev.condition = mode === 'replace' ? item.condition : prev.condition.concat(item.condition);
  }

  rule(item: RuleItem): void {
    const rules = this.defs.rules;
    const m = this.modes(item, 'rule', RULE_APPENDABLE, RULE_REPLACEABLE);
    if (m === undefined) return;
    const prev = rules.get(item.name);
    const own = [...item.keys].filter((k) => k !== 'rule');
    if (m === 'define' && own.length === 1 && own[0] === 'enabled') {
      // Legacy: a rule item with only `enabled` toggles an existing rule.
      if (!prev) {
        this.error(
          item.pos,
          'rule',
          item.name,
          'LOAD_ERR_VALIDATE',
          `rule '${item.name}' has only 'enabled' but no rule by that name already exists`,
        );
        return;
      }
      prev.enabled = item.enabled ?? prev.enabled;
      return;
    }
    if (m === 'define') {
      const missing = (['condition', 'output', 'desc', 'priority'] as const).filter((k) => item[k] === undefined);
      if (missing.length) {
        this.error(
          item.pos,
          'rule',
          item.name,
          'LOAD_ERR_YAML_VALIDATE',
          `rule '${item.name}' is missing ${missing.map((k) => `'${k}'`).join(', ')}: a new rule needs condition, output, desc and priority`,
        );
        return;
      }
      const def: RuleDef = {
        name: item.name,
        pos: item.pos,
        desc: item.desc ?? '',
        condition: item.condition!,
        output: item.output!,
        priority: item.priority!.value,
        tags: [...(item.tags ?? [])],
        enabled: item.enabled ?? true,
        source: item.source ?? 'syscall',
        exceptions: [...(item.exceptions ?? [])],
        warnEvttypes: item.warnEvttypes ?? true,
        skipIfUnknownFilter: item.skipIfUnknownFilter ?? false,
      };
      if (prev)
        rules.set(item.name, def); // Map.set keeps the original position
      else rules.set(item.name, def);
      return;
    }
    if (!prev) {
      this.error(
        item.pos,
        'rule',
        item.name,
        'LOAD_ERR_VALIDATE',
        "Rule has 'append' key but no rule by that name already exists",
      );
      return;
    }
    const mode = (k: string): OverrideMode | undefined =>
      item.append ? (RULE_APPENDABLE.has(k) ? 'append' : 'replace') : m.get(k);
    if (
      item.append &&
      own
        .filter((k) => k !== 'append' && k !== 'enabled')
        .every((k) => k === 'exceptions' || k === 'condition' || k === 'output' || k === 'desc' || k === 'tags') &&
      !item.condition &&
      !item.exceptions &&
      !item.output
    ) {
      this.error(
        item.pos,
        'rule',
        item.name,
        'LOAD_ERR_VALIDATE',
        `appending to rule '${item.name}' needs a 'condition', 'output' or 'exceptions'`,
      );
      return;
    }
    if (item.condition)
      prev.condition = mode('condition') === 'replace' ? item.condition : prev.condition.concat(item.condition);
    if (item.output) prev.output = mode('output') === 'replace' ? item.output : prev.output.concat(item.output);
    if (item.desc !== undefined) prev.desc = mode('desc') === 'replace' ? item.desc : `${prev.desc} ${item.desc}`;
    if (item.tags) prev.tags = mode('tags') === 'replace' ? [...item.tags] : [...prev.tags, ...item.tags];
    if (item.priority && mode('priority') === 'replace') prev.priority = item.priority.value;
    if (item.enabled !== undefined) prev.enabled = item.enabled;
    if (item.warnEvttypes !== undefined) prev.warnEvttypes = item.warnEvttypes;
    if (item.skipIfUnknownFilter !== undefined) prev.skipIfUnknownFilter = item.skipIfUnknownFilter;
    if (item.exceptions) {
      if (mode('exceptions') === 'replace') prev.exceptions = [...item.exceptions];
      else prev.exceptions = this.mergeExceptions(prev, item.exceptions);
    }
  }

  private mergeExceptions(rule: RuleDef, extra: readonly ExceptionDef[]): ExceptionDef[] {
    const out = [...rule.exceptions];
    for (const ex of extra) {
      const i = out.findIndex((e) => e.name === ex.name);
      if (i < 0) {
        if (ex.fields === undefined) {
          this.error(
            ex.pos,
            'exception',
            ex.name,
            'LOAD_ERR_VALIDATE',
            `exception '${ex.name}' appended to rule '${rule.name}' has no 'fields' and no exception of that name exists`,
          );
          continue;
        }
        out.push(ex);
        continue;
      }
      const base = out[i];
      if (
        (ex.fields !== undefined && JSON.stringify(ex.fields) !== JSON.stringify(base.fields)) ||
        (ex.comps !== undefined && JSON.stringify(ex.comps) !== JSON.stringify(base.comps))
      ) {
        this.error(
          ex.pos,
          'exception',
          ex.name,
          'LOAD_ERR_VALIDATE',
          `appending to exception '${ex.name}' of rule '${rule.name}' may only add 'values'; its fields and comps are fixed by the first definition`,
        );
        continue;
      }
      out[i] = { ...base, values: [...(base.values ?? []), ...(ex.values ?? [])] };
    }
    return out;
  }
}
