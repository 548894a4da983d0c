import { createHash } from 'node:crypto';
import { FieldKeyTable } from '../event/index.js';
import {
  ConditionError,
  DiagnosticBag,
  MacroFailedError,
  addSizes,
  macroReference,
  UnknownFieldError,
  andInfo,
  compileExpr,
  compileOperand,
  isAll,
  notInfo,
  parseCondition,
  valueFromText,
  type Compiled,
  type CompileScope,
  type Expr,
  type ItemKind,
  type LoadCode,
  type Value,
} from '../lang/index.js';
import {
  collectDefinitions,
  readRuleSources,
  type Definitions,
  type ExceptionDef,
  type ListDef,
  type RuleDef,
  type RuleFile,
  type SourceText,
} from '../rules/index.js';
import type { CompiledRule } from './compiled-rule.js';
import { ExceptionShapeError, buildExceptionExpr } from './exception-builder.js';
import { OutputFormat } from './output-format.js';

/** Version of the rule language this engine implements (Falco's engine version numbering). */
export const ENGINE_VERSION = '0.58.0';
/** Plugins whose fields Peregrine provides natively, with the version they are equivalent to. */
export const BUILTIN_PLUGINS: Readonly<Record<string, string>> = { container: '0.6.0' };
/** Sources whose rules this engine evaluates; rules for others are skipped with a warning. */
export const SUPPORTED_SOURCES: ReadonlySet<string> = new Set(['syscall']);

/** Everything a load produced: compiled rules, counts and every diagnostic. */
export interface LoadResult {
  readonly files: readonly RuleFile[];
  /** All compiled rules in load order, enabled or not. */
  readonly rules: readonly CompiledRule[];
  readonly counts: { readonly rules: number; readonly macros: number; readonly lists: number };
  readonly diagnostics: DiagnosticBag;
  readonly ok: boolean;
  readonly table: FieldKeyTable;
  /** sha256 over the loaded files' contents, in order. */
  readonly sha256: string;
  readonly definitions: Definitions;
  /** Lists with nested lists spliced, as conditions see them. */
  readonly lists: ReadonlyMap<string, readonly Value[]>;
}

/** A span of a condition or output text (absent: the item's own position is used). */
interface SpanIn {
  readonly text: SourceText | undefined;
  readonly start: number;
  readonly end: number;
}

/** The item a diagnostic is about. */
interface ItemRef {
  readonly kind: ItemKind;
  readonly name: string;
  readonly pos: { file: string; line: number; column: number };
}

/** Loads and compiles rules files (paths or directories) in order. Never throws on bad input. */
export function loadRules(paths: readonly string[], table: FieldKeyTable = new FieldKeyTable()): LoadResult {
  const bag = new DiagnosticBag();
  const files = readRuleSources(paths, bag);
  return compileRuleFiles(files, table, bag);
}

/** Compiles already-read files; diagnostics are added to `bag`. */
export function compileRuleFiles(
  files: readonly RuleFile[],
  table: FieldKeyTable = new FieldKeyTable(),
  bag = new DiagnosticBag(),
): LoadResult {
  const defs = collectDefinitions(files, bag);
  const c = new RulesetCompiler(defs, table, bag);
  const rules = c.compile();
  const lists = c.resolvedLists;
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.name).update('\0').update(f.text).update('\0');
  return {
    files,
    rules,
    diagnostics: bag,
    ok: bag.errors.length === 0,
    table,
    sha256: hash.digest('hex'),
    definitions: defs,
    lists,
    counts: { rules: defs.rules.size, macros: defs.macros.size, lists: defs.lists.size },
  };
}

/**
 * Values all lists of a ruleset may hold once nested lists are spliced in (each costs about
 * 100 bytes): bounds the memory a rules file can make the loader take.
 */
export const MAX_LIST_VALUES = 2_000_000;

/** Values that conditions may splice in from lists, over the whole ruleset. */
export const MAX_SPLICED_VALUES = 8_000_000;

type MacroState = 'compiling' | { ok: Compiled; deps: Set<string> } | { err: MacroFailedError };

class RulesetCompiler {
  private readonly lists = new Map<string, Value[]>();
  get resolvedLists(): ReadonlyMap<string, readonly Value[]> {
    return this.lists;
  }
  private readonly macroState = new Map<string, MacroState>();
  private readonly usedLists = new Set<string>();
  /** Values spliced into conditions so far (bounded by MAX_SPLICED_VALUES). */
  private splicedValues = 0;
  /** Values of all resolved lists so far (bounded by MAX_LIST_VALUES). */
  private listValues = 0;
  private readonly reportedMacros = new Set<string>();
  private currentDeps: Set<string> | undefined;

  constructor(
    private readonly defs: Definitions,
    private readonly table: FieldKeyTable,
    private readonly bag: DiagnosticBag,
  ) {}

  compile(): CompiledRule[] {
    this.checkRequirements();
    this.resolveLists();
    const rules: CompiledRule[] = [];
    const ruleDeps = new Set<string>();
    let order = 0;
    for (const def of this.defs.rules.values()) {
      const r = this.compileRule(def, order++, ruleDeps);
      if (r) rules.push(r);
    }
    for (const name of this.defs.macros.keys()) {
      if (!this.macroState.has(name)) {
        try {
          this.macro(name);
        } catch {
          /* reported inside */
        }
      }
    }
    this.reportUnused(ruleDeps);
    return rules;
  }

  /** A condition or output error (its code, message and span) as a diagnostic of `item`. */
  private conditionDiag(err: ConditionError, text: SourceText | undefined, item: ItemRef): void {
    this.diag('error', err.code, err.message, { text, start: err.start, end: err.end }, item);
  }

  /**
   * Adds a diagnostic for the span `start..end` of `text` (a condition or output) of item `kind`
   * `name`; at the item's position `fallback` when there is no text.
   */
  private diag(severity: 'error' | 'warning', code: LoadCode, message: string, at: SpanIn, item: ItemRef): void {
    const { text, start, end } = at;
    const { kind, name, pos: fallback } = item;
    const p = text ? text.locate(start) : fallback;
    const e = text && end > start ? text.locate(end) : undefined;
    this.bag.add({
      severity,
      code,
      message,
      ...p,
      itemKind: kind,
      itemName: name,
      endLine: e?.line,
      endColumn: e?.column,
    });
  }

  private checkRequirements(): void {
    for (const req of this.defs.requiredEngineVersions) {
      const want = parseVersion(req.value);
      if (!want) {
        this.bag.add({
          severity: 'error',
          code: 'LOAD_ERR_YAML_VALIDATE',
          message: `required_engine_version '${req.value}' is not a version: write it as MAJOR.MINOR.PATCH, such as 0.57.0`,
          ...req.pos,
          itemKind: 'required_engine_version',
          itemName: req.value,
        });
      } else if (compareVersions(want, parseVersion(ENGINE_VERSION)!) > 0) {
        this.bag.add({
          severity: 'error',
          code: 'LOAD_ERR_VALIDATE',
          message: `rules require engine version ${req.value}, but this engine is ${ENGINE_VERSION}: upgrade Peregrine or use older rules`,
          ...req.pos,
          itemKind: 'required_engine_version',
          itemName: req.value,
        });
      }
    }
    for (const req of this.defs.requiredPlugins) {
      const have = BUILTIN_PLUGINS[req.value.name];
      if (have === undefined) {
        this.bag.add({
          severity: 'warning',
          code: 'LOAD_UNKNOWN_PLUGIN',
          message: `rules require plugin '${req.value.name}' ${req.value.version}, which Peregrine does not provide; rules that need its source or fields will not load`,
          ...req.pos,
          itemKind: 'required_plugin_versions',
          itemName: req.value.name,
        });
      } else {
        const want = parseVersion(req.value.version);
        if (!want || compareVersions(want, parseVersion(have)!) > 0) {
          this.bag.add({
            severity: 'error',
            code: 'LOAD_ERR_VALIDATE',
            message: `rules require plugin '${req.value.name}' ${req.value.version}; Peregrine provides its fields at the level of ${have}`,
            ...req.pos,
            itemKind: 'required_plugin_versions',
            itemName: req.value.name,
          });
        }
      }
    }
  }

  /**
   * Lists may splice lists defined before their last definition (Falco's visibility). Splicing
   * copies items, so a list that names a big list many times could grow without bound: the
   * values of all resolved lists together are limited to {@link MAX_LIST_VALUES}.
   */
  private resolveLists(): void {
    const byIndex = [...this.defs.lists.values()].sort((a, b) => a.index - b.index);
    for (const def of byIndex) {
      const out: Value[] = [];
      const room = MAX_LIST_VALUES - this.listValues;
      for (const item of def.items) {
        const ref: ListDef | undefined = this.defs.lists.get(item.value);
        if (ref && ref !== def && ref.index < def.visibility) {
          this.usedLists.add(ref.name);
          const resolved = this.lists.get(ref.name);
          // loops, not push(...spread): spreading 100k+ items overflows the stack
          if (resolved) for (const v of resolved) out.push(v);
          else for (const i of ref.items) out.push(valueFromText(i.value));
        } else out.push(valueFromText(item.value));
        if (out.length > room) break;
      }
      if (out.length > room) {
        this.bag.add({
          severity: 'error',
          code: 'LOAD_ERR_LIMIT',
          ...def.pos,
          itemKind: 'list',
          itemName: def.name,
          message: `list '${def.name}' with the lists it includes has more than ${room.toLocaleString('en-US')} values, which would take the ruleset's lists past ${MAX_LIST_VALUES.toLocaleString('en-US')} values in all: include big lists once, or split the rules that need them`,
        });
        this.lists.set(def.name, []);
        continue;
      }
      this.listValues += out.length;
      this.lists.set(def.name, out);
    }
  }

  private scope(
    text: SourceText | undefined,
    kind: ItemKind,
    name: string,
    fallback: { file: string; line: number; column: number },
  ): CompileScope {
    return {
      table: this.table,
      list: (n) => {
        const l = this.lists.get(n);
        if (l) {
          this.usedLists.add(n);
          // every condition that names a list gets its own copy of the values: bounded too
          this.splicedValues += l.length;
          if (this.splicedValues > MAX_SPLICED_VALUES) {
            throw new ConditionError(
              'LOAD_ERR_LIMIT',
              `list '${n}' takes the values spliced into the ruleset's conditions past ${MAX_SPLICED_VALUES.toLocaleString('en-US')}: name big lists in fewer conditions (put the check in one macro and reuse it)`,
              0,
            );
          }
        }
        return l;
      },
      macro: (n, s, e) => {
        this.currentDeps?.add(n);
        try {
          return this.macro(n);
        } catch (err) {
          if (
            err instanceof ConditionError &&
            !(err instanceof MacroFailedError) &&
            err.code === 'LOAD_ERR_VALIDATE' &&
            err.message.startsWith('Undefined macro')
          ) {
            throw new ConditionError(err.code, err.message, s, e);
          }
          if (err instanceof MacroFailedError) throw new MacroFailedError(n, err.inner, s, e, err.origin, err.deferred);
          throw new MacroFailedError(n, err as ConditionError, s, e);
        }
      },
      warn: (code, message, s, e) =>
        this.diag('warning', code, message, { text, start: s, end: e }, { kind, name, pos: fallback }),
    };
  }

  private macro(name: string): Compiled {
    const def = this.defs.macros.get(name);
    if (!def) throw new ConditionError('LOAD_ERR_VALIDATE', `Undefined macro '${name}' used in filter.`, 0);
    const state = this.macroState.get(name);
    if (state === 'compiling') throw new ConditionError('LOAD_ERR_VALIDATE', `reference loop in macro '${name}'`, 0);
    if (state && 'ok' in state) return state.ok;
    if (state && 'err' in state) throw state.err;
    this.macroState.set(name, 'compiling');
    const saved = this.currentDeps;
    const deps = new Set<string>();
    this.currentDeps = deps;
    const fail = (err: MacroFailedError): never => {
      this.macroState.set(name, { err });
      throw err;
    };
    try {
      let expr: Expr;
      try {
        expr = parseCondition(def.condition.text);
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        this.conditionDiag(err, def.condition, { kind: 'macro', name, pos: def.pos });
        return fail(new MacroFailedError(name, err, 0, 0));
      }
      try {
        const compiled = macroReference(compileExpr(expr, this.scope(def.condition, 'macro', name, def.pos)));
        this.macroState.set(name, { ok: compiled, deps });
        return compiled;
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        if (err instanceof MacroFailedError) {
          // A loop is reported once, at the macro that starts it.
          if (err.inner.message === `reference loop in macro '${name}'`) {
            this.diag(
              'error',
              'LOAD_ERR_VALIDATE',
              `${err.inner.message}: macros must not refer to themselves through other macros`,
              { text: def.condition, start: err.start, end: err.end },
              { kind: 'macro', name, pos: def.pos },
            );
          }
          return fail(new MacroFailedError(name, err.inner, 0, 0, err.origin, err.deferred));
        }
        if (err.code === 'LOAD_ERR_VALIDATE') {
          // undefined macro: Falco reports it at the macro
          this.conditionDiag(err, def.condition, { kind: 'macro', name, pos: def.pos });
          return fail(new MacroFailedError(name, err, 0, 0));
        }
        // field and value errors: reported at each rule that uses the macro, pointing into it
        return fail(new MacroFailedError(name, err, 0, 0, name, true));
      }
    } finally {
      this.currentDeps = saved;
    }
  }

  /** Compiles one rule: condition, then its exceptions, then its output; undefined after a diagnostic. */
  private compileRule(def: RuleDef, order: number, ruleDeps: Set<string>): CompiledRule | undefined {
    const { name } = def;
    if (!SUPPORTED_SOURCES.has(def.source)) {
      this.bag.add({
        severity: 'warning',
        code: 'LOAD_UNKNOWN_SOURCE',
        message: `rule source '${def.source}' is not supported (supported: ${[...SUPPORTED_SOURCES].join(', ')}); the rule is skipped`,
        ...def.pos,
        itemKind: 'rule',
        itemName: name,
      });
      return undefined;
    }
    const saved = this.currentDeps;
    this.currentDeps = ruleDeps;
    try {
      let compiled: Compiled;
      try {
        compiled = compileExpr(parseCondition(def.condition.text), this.scope(def.condition, 'rule', name, def.pos));
      } catch (err) {
        this.conditionFailure(err, def.condition, name, def.pos, def.skipIfUnknownFilter);
        return undefined;
      }
      for (const ex of def.exceptions) {
        const next = this.withException(compiled, ex, name);
        if (!next) return undefined;
        compiled = next;
      }
      const output = this.compileOutput(def);
      if (!output) return undefined;
      // Falco warns when a rule's event-type set is empty (all) or larger than 100 types.
      if ((isAll(compiled.types.t) || compiled.types.t.neg) && def.warnEvttypes) {
        this.bag.add({
          severity: 'warning',
          code: 'LOAD_NO_EVTTYPE',
          message:
            'rule matches too many evt.type values: it runs on every event, which costs performance; add an evt.type restriction (or warn_evttypes: false)',
          ...def.pos,
          itemKind: 'rule',
          itemName: name,
        });
      }
      return {
        name,
        desc: def.desc,
        priority: def.priority,
        tags: def.tags,
        source: def.source,
        enabled: def.enabled,
        order,
        pred: compiled.pred,
        types: compiled.types.t,
        output,
        pos: def.pos,
        conditionText: def.condition.text,
        expandedSize: compiled.size,
      };
    } finally {
      this.currentDeps = saved;
    }
  }

  /**
   * The rule's condition with one exception applied (`condition and not exception`): its fields
   * checked, its shape turned into a condition, compiled. Undefined after a diagnostic.
   */
  private withException(compiled: Compiled, ex: ExceptionDef, rule: string): Compiled | undefined {
    const bad = (code: LoadCode, message: string): undefined => {
      this.bag.add({ severity: 'error', code, message, ...ex.pos, itemKind: 'exception', itemName: ex.name });
      return undefined;
    };
    const fields = ex.fields === undefined ? [] : typeof ex.fields === 'string' ? [ex.fields] : ex.fields;
    for (const f of fields) {
      const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(f.trim());
      try {
        compileOperand({ kind: 'field', name: m?.[1] ?? f, arg: m?.[2], span: { start: 0, end: 0 } }, this.table);
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        return bad('LOAD_ERR_VALIDATE', `exception '${ex.name}' of rule '${rule}': field '${f}': ${err.message}`);
      }
    }
    let exExpr: Expr | undefined;
    try {
      exExpr = buildExceptionExpr(ex);
    } catch (err) {
      if (!(err instanceof ExceptionShapeError)) throw err;
      return bad(err.code, `${err.message} (rule '${rule}')`);
    }
    if (!exExpr) return compiled;
    try {
      const exc = compileExpr(exExpr, this.scope(undefined, 'rule', rule, ex.pos));
      const p = compiled.pred;
      const q = exc.pred;
      return {
        pred: (e) => p(e) && !q(e),
        types: andInfo([compiled.types, notInfo(exc.types)]),
        size: addSizes(compiled.size, exc.size, 2),
      };
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      return bad('LOAD_ERR_VALIDATE', `exception '${ex.name}' of rule '${rule}': ${err.message}`);
    }
  }

  private compileOutput(def: RuleDef): OutputFormat | undefined {
    try {
      return OutputFormat.compile(def.output.text.replace(/\s+$/, ''), this.table);
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      this.conditionDiag(err, def.output, { kind: 'rule', name: def.name, pos: def.pos });
      return undefined;
    }
  }

  private conditionFailure(
    err: unknown,
    text: SourceText,
    name: string,
    pos: { file: string; line: number; column: number },
    skip: boolean,
  ): void {
    if (!(err instanceof ConditionError)) throw err;
    const unknown =
      err instanceof UnknownFieldError
        ? err
        : err instanceof MacroFailedError && err.inner instanceof UnknownFieldError
          ? err.inner
          : undefined;
    if (unknown && skip) {
      this.bag.add({
        severity: 'warning',
        code: 'LOAD_UNKNOWN_FIELD',
        message: `rule uses unknown field '${unknown.field}' and has skip-if-unknown-filter: true; the rule is skipped`,
        ...pos,
        itemKind: 'rule',
        itemName: name,
      });
      return;
    }
    if (err instanceof MacroFailedError) {
      if (!err.deferred) return; // already reported where the macro is
      const m = this.defs.macros.get(err.origin);
      this.diag(
        'error',
        err.inner.code,
        `${err.inner.message} (in macro '${err.origin}')`,
        { text: m?.condition, start: err.inner.start, end: err.inner.end },
        { kind: 'rule', name, pos: m?.pos ?? pos },
      );
      return;
    }
    this.diag(
      'error',
      err.code,
      err.message,
      { text, start: err.start, end: err.end },
      { kind: 'rule', name, pos: pos },
    );
  }

  private reportUnused(ruleDeps: Set<string>): void {
    const used = new Set<string>();
    const stack = [...ruleDeps];
    while (stack.length) {
      const m = stack.pop()!;
      if (used.has(m)) continue;
      used.add(m);
      const st = this.macroState.get(m);
      if (st && typeof st === 'object' && 'ok' in st) stack.push(...st.deps);
    }
    for (const def of this.defs.macros.values()) {
      if (!used.has(def.name))
        this.bag.add({
          severity: 'warning',
          code: 'LOAD_UNUSED_MACRO',
          message: 'Macro not referred to by any other rule/macro',
          ...def.pos,
          itemKind: 'macro',
          itemName: def.name,
        });
    }
    for (const def of this.defs.lists.values()) {
      if (!this.usedLists.has(def.name))
        this.bag.add({
          severity: 'warning',
          code: 'LOAD_UNUSED_LIST',
          message: 'List not referred to by any other rule/macro',
          ...def.pos,
          itemKind: 'list',
          itemName: def.name,
        });
    }
  }
}

function parseVersion(v: string): [number, number, number] | undefined {
  const t = v.trim();
  if (/^\d+$/.test(t)) return [0, Number(t), 0]; // legacy integer engine versions
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(t);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * Compiles one self-contained condition (no macros or lists) — for tools, `explain` and tests.
 * Throws {@link ConditionError} with offsets into `text`.
 */
export function compileCondition(text: string, table: FieldKeyTable): Compiled {
  const expr = parseCondition(text);
  return compileExpr(expr, {
    table,
    list: () => undefined,
    macro: (name, s, e) => {
      throw new ConditionError('LOAD_ERR_VALIDATE', `Undefined macro '${name}' used in filter.`, s, e);
    },
    warn: () => {},
  });
}
