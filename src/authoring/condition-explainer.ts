import { toAlertValue, type AlertFieldValue, type SyscallEvent } from '../event/index.js';
import type { CompiledRule, LoadResult } from '../engine/index.js';
import { buildExceptionExpr } from '../engine/index.js';
import {
  compileExpr,
  compileOperand,
  parseCondition,
  printCondition,
  type Expr,
  type Operand,
  type RValue,
} from '../lang/index.js';
import { toolScope, type ToolScope } from './tool-scope.js';

/** One node of an explained condition: its value on the event and the fields it read. */
export interface ExplainNode {
  readonly label: string;
  readonly value: boolean;
  /** True when and/or short-circuiting means the engine never evaluates this node. */
  readonly skipped: boolean;
  readonly fields: Readonly<Record<string, AlertFieldValue>>;
  readonly children: readonly ExplainNode[];
}

/** Why a rule did or did not match one event. */
export interface RuleExplanation {
  readonly rule: string;
  readonly matched: boolean;
  readonly tree: ExplainNode;
}

/**
 * Explains a compiled rule on an event: the condition tree (macros expanded, exceptions shown
 * as the `not` they add) with each sub-expression's value and the fields it read.
 */
export function explainRule(load: LoadResult, rule: CompiledRule, ev: SyscallEvent): RuleExplanation {
  const scope = toolScope(load);
  const def = load.definitions.rules.get(rule.name)!;
  const ctx: ExplainContext = { shown: new Set(), nodes: 0 };
  const cond = explainExpr(parseCondition(def.condition.text), scope, ev, 0, ctx);
  const exceptions = def.exceptions
    .map((ex) => ({ ex, expr: buildExceptionExpr(ex) }))
    .filter((x): x is { ex: typeof x.ex; expr: Expr } => x.expr !== undefined)
    .map(({ ex, expr }) => ({ ...explainExpr(expr, scope, ev, 0, ctx), label: `exception '${ex.name}'` }));
  let tree = cond;
  if (exceptions.length) {
    const anyEx = exceptions.some((x) => x.value);
    tree = {
      label: 'and',
      value: cond.value && !anyEx,
      skipped: false,
      fields: {},
      children: [
        cond,
        { label: 'not (exceptions)', value: !anyEx, skipped: !cond.value, fields: {}, children: exceptions },
      ],
    };
  }
  return { rule: rule.name, matched: rule.pred(ev), tree };
}

/** Nodes an explanation shows at most; past it, sub-trees are summarised (bounded output). */
const MAX_EXPLAIN_NODES = 2_000;

/** Per explanation: macros already expanded (shown once), nodes shown so far. */
interface ExplainContext {
  readonly shown: Set<string>;
  nodes: number;
}

function explainExpr(e: Expr, scope: ToolScope, ev: SyscallEvent, depth: number, ctx: ExplainContext): ExplainNode {
  const value = compileExpr(e, scope).pred(ev);
  ctx.nodes++;
  if (ctx.nodes > MAX_EXPLAIN_NODES && e.kind !== 'check') {
    return {
      label: `${e.kind === 'macro' ? `macro ${e.name}` : e.kind} (not expanded: the explanation is limited to ${MAX_EXPLAIN_NODES} nodes)`,
      value,
      skipped: false,
      fields: {},
      children: [],
    };
  }
  switch (e.kind) {
    case 'and':
    case 'or': {
      const children = e.items.map((x) => explainExpr(x, scope, ev, depth + 1, ctx));
      // mark the children the engine skips after the deciding one
      let decided = false;
      const marked = children.map((c) => {
        const out = decided ? { ...c, skipped: true } : c;
        if (!decided && c.value === (e.kind === 'or')) decided = true;
        return out;
      });
      return { label: e.kind, value, skipped: false, fields: {}, children: marked };
    }
    case 'not':
      return {
        label: 'not',
        value,
        skipped: false,
        fields: {},
        children: [explainExpr(e.expr, scope, ev, depth + 1, ctx)],
      };
    case 'macro': {
      // Each macro is expanded once per explanation: nested macros that reuse one another
      // would otherwise make the tree exponential in the rule text.
      if (ctx.shown.has(e.name))
        return { label: `macro ${e.name} (expanded above)`, value, skipped: false, fields: {}, children: [] };
      ctx.shown.add(e.name);
      const inner = scope.macroExpr(e.name);
      return {
        label: `macro ${e.name}`,
        value,
        skipped: false,
        fields: {},
        children: inner && depth < 64 ? [explainExpr(inner, scope, ev, depth + 1, ctx)] : [],
      };
    }
    case 'check':
      return {
        label: printCondition(e),
        value,
        skipped: false,
        fields: readFields(e.left, e.right, scope, ev),
        children: [],
      };
  }
}

function readFields(
  left: Operand,
  right: RValue | undefined,
  scope: ToolScope,
  ev: SyscallEvent,
): Record<string, AlertFieldValue> {
  const out: Record<string, AlertFieldValue> = {};
  const ops = [left, ...(right?.kind === 'operand' ? [right.operand] : [])];
  for (const o of ops) {
    const c = compileOperand(o, scope.table);
    if (c.kind === 'single') out[c.key] = toAlertValue(c.read(ev));
    else {
      const vs = c.read(ev);
      out[c.key] = vs.length ? vs.map(String) : null;
    }
  }
  return out;
}

/** Text rendering: one line per node, ✓/✗ for its value, fields read at the end. */
export function explanationText(x: RuleExplanation): string {
  const lines: string[] = [];
  const walk = (n: ExplainNode, indent: string): void => {
    const mark = n.skipped ? '·' : n.value ? '✓' : '✗';
    const fields = Object.entries(n.fields)
      .map(([k, v]) => `${k}=${v === null ? '<NA>' : Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ');
    lines.push(
      `${indent}${mark} ${n.label}${fields ? `    [${fields}]` : ''}${n.skipped ? '    (not evaluated: decided earlier)' : ''}`,
    );
    for (const c of n.children) walk(c, `${indent}  `);
  };
  walk(x.tree, '  ');
  return lines.join('\n') + '\n';
}
