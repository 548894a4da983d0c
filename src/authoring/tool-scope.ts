import type { LoadResult } from '../engine/index.js';
import {
  ConditionError,
  compileExpr,
  macroReference,
  parseCondition,
  type Compiled,
  type CompileScope,
  type Expr,
} from '../lang/index.js';

/** A compile scope over a loaded ruleset, for tools that compile sub-expressions (explain, lint). */
export interface ToolScope extends CompileScope {
  /** The parsed condition of a macro, or undefined. */
  macroExpr(name: string): Expr | undefined;
}

/** Builds a {@link ToolScope}; macros are parsed and compiled on first use and cached. */
export function toolScope(load: LoadResult): ToolScope {
  const exprs = new Map<string, Expr>();
  const compiled = new Map<string, Compiled>();
  const active = new Set<string>();
  const scope: ToolScope = {
    table: load.table,
    list: (n) => load.lists.get(n),
    macroExpr(name) {
      let e = exprs.get(name);
      const def = load.definitions.macros.get(name);
      if (!e && def) {
        e = parseCondition(def.condition.text);
        exprs.set(name, e);
      }
      return e;
    },
    macro(name, s, e) {
      const done = compiled.get(name);
      if (done) return done;
      const expr = scope.macroExpr(name);
      if (!expr) throw new ConditionError('LOAD_ERR_VALIDATE', `Undefined macro '${name}' used in filter.`, s, e);
      if (active.has(name)) throw new ConditionError('LOAD_ERR_VALIDATE', `reference loop in macro '${name}'`, s, e);
      active.add(name);
      try {
        const c = macroReference(compileExpr(expr, scope));
        compiled.set(name, c);
        return c;
      } finally {
        active.delete(name);
      }
    },
    warn: () => {},
  };
  return scope;
}
