import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { parsePriority, type FieldKeyTable } from '../event/index.js';
import {
  compileExpr,
  ConditionError,
  DiagnosticBag,
  parseCondition,
  type CompileScope,
  type Diagnostic,
  type ResponseCode,
} from '../lang/index.js';
import { responseActionFor } from './response-actions.js';
import { DEFAULT_OWNER_KINDS, type PolicyAction, type PriorityMatch, type ResponsePolicy } from './response-policy.js';

/** Largest response policy file, in bytes. */
export const MAX_POLICY_FILE_BYTES = 256 * 1024;
/** Most policies of one load, and most actions of one policy. */
export const MAX_POLICIES = 1_000;
export const MAX_ACTIONS_PER_POLICY = 16;

const PolicySchema = z
  .object({
    response: z.string().min(1).max(200),
    match: z
      .object({
        rules: z.array(z.string().min(1)).min(1).optional(),
        priority: z.string().min(1).optional(),
        tags: z.array(z.string().min(1)).min(1).optional(),
        condition: z
          .string()
          .min(1)
          .max(64 * 1024)
          .optional(),
      })
      .strict()
      .refine((m) => m.rules || m.priority || m.tags || m.condition, {
        message: 'say what the policy matches: rules, priority, tags or condition (a policy never matches every alert)',
      }),
    actions: z
      .array(z.object({ action: z.string().min(1), parameters: z.record(z.string(), z.unknown()).optional() }).strict())
      .min(1)
      .max(MAX_ACTIONS_PER_POLICY),
    dry_run: z.boolean().default(false),
    continue: z.boolean().default(false),
    owner_kinds: z.array(z.string().min(1)).optional(),
    enabled: z.boolean().default(true),
  })
  .strict();

/** What a load produced: the policies and every problem (errors keep the previous policies in the daemon). */
export interface PolicyLoad {
  readonly policies: readonly ResponsePolicy[];
  readonly diagnostics: DiagnosticBag;
  readonly files: readonly string[];
}

/** The policy files under the given paths: files as given, directories' `*.yaml`/`*.yml` in name order. */
export function policyFiles(paths: readonly string[], bag: DiagnosticBag): string[] {
  const out: string[] = [];
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory())
        out.push(
          ...readdirSync(p)
            .filter((f) => /\.ya?ml$/.test(f))
            .sort()
            .map((f) => join(p, f)),
        );
      else out.push(p);
    } catch (err) {
      bag.add(fileError(p, 'RESP_ERR_FILE_READ', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`));
    }
  }
  return out;
}

/**
 * Loads and validates response policies: YAML with positions, the schema, every action known
 * with valid parameters, conditions compiled (Falco's language, over the fields of the alert's
 * event), names unique. Every problem is a diagnostic with `file:line:column` and a stable code;
 * a load with errors yields no policies. `knownRules`, when given, warns about rule names no
 * loaded rule has.
 */
export function loadPolicies(
  paths: readonly string[],
  table: FieldKeyTable,
  knownRules?: ReadonlySet<string>,
): PolicyLoad {
  const bag = new DiagnosticBag();
  const files = policyFiles(paths, bag);
  const policies: ResponsePolicy[] = [];
  const names = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      const bytes = readFileSync(file);
      if (bytes.length > MAX_POLICY_FILE_BYTES) {
        bag.add(
          fileError(file, 'RESP_ERR_LIMIT', `larger than ${MAX_POLICY_FILE_BYTES} bytes: split it into several files`),
        );
        continue;
      }
      text = bytes.toString('utf8');
    } catch (err) {
      bag.add(
        fileError(file, 'RESP_ERR_FILE_READ', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`),
      );
      continue;
    }
    for (const p of loadFile(file, text, table, bag, knownRules)) {
      const first = names.get(p.name);
      if (first) {
        bag.add({
          severity: 'error',
          code: 'RESP_ERR_DUPLICATE',
          message: `a policy named '${p.name}' is already defined at ${first}: give each policy its own name`,
          file,
          line: p.line,
          column: 3,
          itemKind: 'response',
          itemName: p.name,
        });
        continue;
      }
      names.set(p.name, `${file}:${p.line}`);
      policies.push(p);
    }
    if (policies.length > MAX_POLICIES) {
      bag.add(fileError(file, 'RESP_ERR_LIMIT', `more than ${MAX_POLICIES} policies: merge some`));
      break;
    }
  }
  return { policies: bag.errors.length ? [] : policies, diagnostics: bag, files };
}

function fileError(file: string, code: ResponseCode, message: string): Diagnostic {
  return { severity: 'error', code, message, file, line: 1, column: 1, itemKind: 'file', itemName: file };
}

function loadFile(
  file: string,
  text: string,
  table: FieldKeyTable,
  bag: DiagnosticBag,
  knownRules: ReadonlySet<string> | undefined,
): ResponsePolicy[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const at = (node: Node | null | undefined): { line: number; column: number } => {
    const off = node?.range?.[0] ?? 0;
    const p = lc.linePos(off);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length) {
    for (const e of doc.errors.slice(0, 20)) {
      const p = lc.linePos(e.pos[0]);
      bag.add({
        severity: 'error',
        code: 'RESP_ERR_YAML_PARSE',
        message: e.message.split('\n')[0],
        file,
        line: p.line,
        column: p.col,
      });
    }
    return [];
  }
  if (doc.contents === null) return [];
  if (!isSeq(doc.contents)) {
    bag.add({
      severity: 'error',
      code: 'RESP_ERR_VALIDATE',
      message: 'a policy file is a YAML list of policies (`- response: NAME`)',
      file,
      ...at(doc.contents),
    });
    return [];
  }
  let all: unknown[];
  try {
    // aliases are bounded: a few lines of YAML must not expand into gigabytes
    all = doc.toJS({ maxAliasCount: 100 }) as unknown[];
  } catch (e) {
    bag.add({
      severity: 'error',
      code: 'RESP_ERR_LIMIT',
      message: `${e instanceof Error ? e.message : String(e)}: use fewer YAML aliases`,
      file,
      line: 1,
      column: 1,
    });
    return [];
  }
  const out: ResponsePolicy[] = [];
  doc.contents.items.forEach((item, i) => {
    const node = item as Node;
    const raw = all[i];
    const name =
      isMap(node) && typeof node.get('response') === 'string' ? (node.get('response') as string) : `#${i + 1}`;
    const err = (code: ResponseCode, message: string, path: Array<string | number> = []): void => {
      bag.add({
        severity: 'error',
        code,
        message,
        file,
        ...at(nodeAt(doc, [i, ...path]) ?? node),
        itemKind: 'response',
        itemName: name,
      });
    };
    const parsed = PolicySchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        err(
          'RESP_ERR_VALIDATE',
          `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`,
          issue.path as Array<string | number>,
        );
      return;
    }
    const p = parsed.data;
    if (!p.enabled) return;
    let ok = true;
    let priority: PriorityMatch | undefined;
    if (p.match.priority) {
      const m = /^\s*(>=|<=|==|=|>|<)?\s*([A-Za-z]+)\s*$/.exec(p.match.priority);
      const level = m ? parsePriority(m[2]) : undefined;
      if (!m || !level) {
        err(
          'RESP_ERR_VALIDATE',
          `match.priority: '${p.match.priority}' is not a priority comparison: write e.g. ">= Warning" (operators >=, >, <=, <, ==; priorities Emergency … Debug)`,
          ['match', 'priority'],
        );
        ok = false;
      } else priority = { op: m[1] === '=' || !m[1] ? '==' : (m[1] as PriorityMatch['op']), priority: level };
    }
    if (knownRules)
      for (const r of p.match.rules ?? [])
        if (!knownRules.has(r))
          bag.add({
            severity: 'warning',
            code: 'RESP_WARN_UNKNOWN_RULE',
            message: `no loaded rule is named '${r}': the policy never matches it (check the spelling)`,
            file,
            ...at(nodeAt(doc, [i, 'match', 'rules', (p.match.rules ?? []).indexOf(r)]) ?? node),
            itemKind: 'response',
            itemName: name,
          });
    let condition: ResponsePolicy['condition'];
    if (p.match.condition) {
      try {
        const compiled = compileExpr(parseCondition(p.match.condition), standaloneScope(table));
        condition = { text: p.match.condition, pred: compiled.pred };
      } catch (e) {
        if (!(e instanceof ConditionError)) throw e;
        err('RESP_ERR_CONDITION', `match.condition: ${e.message}`, ['match', 'condition']);
        ok = false;
      }
    }
    const actions: PolicyAction[] = [];
    p.actions.forEach((a, j) => {
      const action = responseActionFor(a.action);
      if (!action) {
        err(
          'RESP_ERR_UNKNOWN_ACTION',
          `actions[${j}]: unknown action '${a.action}' (see \`peregrine responses list --actions\`)`,
          ['actions', j, 'action'],
        );
        ok = false;
        return;
      }
      const params = action.parameters.safeParse(a.parameters ?? {});
      if (!params.success) {
        for (const issue of params.error.issues)
          err(
            'RESP_ERR_PARAMETERS',
            `actions[${j}] (${a.action}): parameters${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`,
            ['actions', j, 'parameters', ...(issue.path as Array<string | number>)],
          );
        ok = false;
        return;
      }
      actions.push({ action, params: params.data, line: at(nodeAt(doc, [i, 'actions', j]) ?? node).line });
    });
    if (!ok) return;
    out.push({
      name: p.response,
      file,
      line: at(node).line,
      rules: p.match.rules ? new Set(p.match.rules) : undefined,
      priority,
      tags: p.match.tags,
      condition,
      actions,
      dryRun: p.dry_run,
      continue: p.continue,
      ownerKinds: new Set(p.owner_kinds ?? DEFAULT_OWNER_KINDS),
    });
  });
  return out;
}

/** The deepest node along `path` (a problem is shown where it is, or at its nearest parent). */
function nodeAt(doc: Document, path: Array<string | number>): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
  }
  return undefined;
}

/** Conditions of policies stand alone: no lists or macros (rules files have those). */
function standaloneScope(table: FieldKeyTable): CompileScope {
  return {
    table,
    list: () => undefined,
    macro: (name, start, end) => {
      throw new ConditionError(
        'LOAD_UNKNOWN_ITEM',
        `'${name}' is not a field; policy conditions cannot use macros: write the condition out`,
        start,
        end,
      );
    },
    warn: () => undefined,
  };
}
