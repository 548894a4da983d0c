import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Node, type Pair, type YAMLMap } from 'yaml';
import { parsePriority, PRIORITIES } from '../event/index.js';
import type { Diagnostic, DiagnosticBag, ItemKind, LoadCode, SourcePos } from '../lang/index.js';
import type { ExceptionDef, Located, OverrideMode, RuleFile, RuleFileItem } from './rule-items.js';
import { SourceText } from './source-text.js';

/**
 * Largest rules file accepted, in bytes. The YAML parser takes about 100 bytes of memory per
 * byte of dense YAML (a flow list of short items), so this bounds what one file can cost:
 * about 90 MB and 1.2 s at the limit. Falco's largest upstream file is 95 KB.
 */
export const MAX_RULES_FILE_BYTES = 512 * 1024;
/** Largest total of all rules files of one load, in bytes. */
export const MAX_RULES_TOTAL_BYTES = 4 * 1024 * 1024;

const KNOWN_KEYS: Readonly<Record<'list' | 'macro' | 'rule', ReadonlySet<string>>> = {
  list: new Set(['list', 'items', 'append', 'override']),
  macro: new Set(['macro', 'condition', 'append', 'override']),
  rule: new Set([
    'rule',
    'desc',
    'condition',
    'output',
    'priority',
    'tags',
    'enabled',
    'source',
    'exceptions',
    'warn_evttypes',
    'skip-if-unknown-filter',
    'append',
    'override',
    'capture',
    'capture_duration',
  ]),
};

/**
 * Reads one rules file (bytes) into items with positions. Every problem becomes a diagnostic
 * in `bag` (never an exception); items that cannot be read are left out.
 */
export function readRuleFile(name: string, bytes: Uint8Array, bag: DiagnosticBag): RuleFile {
  const fileDiag = (code: LoadCode, message: string, line = 1, column = 1): void =>
    bag.add({ severity: 'error', code, message, file: name, line, column, itemKind: 'file', itemName: name });
  if (bytes.length > MAX_RULES_FILE_BYTES) {
    fileDiag(
      'LOAD_ERR_LIMIT',
      `file is larger than the limit of ${MAX_RULES_FILE_BYTES} bytes per rules file: split it into several files`,
    );
    return { name, text: '', items: [] };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const lossy = new TextDecoder('utf-8').decode(bytes);
    const before = lossy.slice(0, lossy.indexOf('\uFFFD'));
    const bad = Buffer.byteLength(before);
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    fileDiag(
      'LOAD_ERR_FILE_READ',
      `file is not valid UTF-8 (byte 0x${bytes[bad].toString(16)} at offset ${bad}): save it as UTF-8`,
      line,
      column,
    );
    return { name, text: '', items: [] };
  }
  const lc = new LineCounter();
  const reader = new ItemReader(name, text, lc, bag);
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, strict: false });
  const docList = Array.isArray(docs) ? docs : [docs];
  let hadYamlError = false;
  for (const doc of docList) {
    for (const err of doc.errors) {
      hadYamlError = true;
      const p = lc.linePos(err.pos[0]);
      bag.add({
        severity: 'error',
        code: 'LOAD_ERR_YAML_PARSE',
        message: `invalid YAML: ${err.message.split('\n')[0]}`,
        file: name,
        line: p.line,
        column: p.col,
        itemKind: 'file',
        itemName: name,
      });
    }
  }
  if (hadYamlError) return { name, text, items: [] };
  const items: RuleFileItem[] = [];
  for (const doc of docList) {
    const root = doc.contents;
    if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) continue;
    if (!isSeq(root)) {
      reader.diag(
        root,
        'LOAD_ERR_YAML_VALIDATE',
        'rules content must be a YAML sequence of items (- rule: ..., - macro: ..., - list: ...)',
      );
      continue;
    }
    for (const node of root.items) {
      const item = reader.item(node);
      if (item) items.push(item);
    }
  }
  return { name, text, items };
}

class ItemReader {
  private kind: ItemKind = 'file';
  private itemName: string | undefined;

  constructor(
    private readonly file: string,
    private readonly src: string,
    private readonly lc: LineCounter,
    private readonly bag: DiagnosticBag,
  ) {}

  pos(node: Node | null | undefined): SourcePos {
    const off = node?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { file: this.file, line: p.line, column: p.col };
  }

  diag(
    node: Node | null | undefined,
    code: LoadCode,
    message: string,
    severity: Diagnostic['severity'] = 'error',
  ): void {
    const p = this.pos(node);
    const endOff = node?.range?.[1];
    const e = endOff !== undefined ? this.lc.linePos(endOff) : undefined;
    this.bag.add({
      severity,
      code,
      message,
      ...p,
      itemKind: this.kind,
      itemName: this.itemName,
      endLine: e?.line,
      endColumn: e?.col,
    });
  }

  /** Reads one item of the top-level sequence; undefined (after a diagnostic) when it is not usable. */
  item(node: Node): RuleFileItem | undefined {
    this.kind = 'file';
    this.itemName = undefined;
    if (!isMap(node)) {
      this.diag(
        node,
        'LOAD_ERR_YAML_VALIDATE',
        'each item must be a mapping such as "- rule: NAME" with its keys; got a ' +
          (isSeq(node) ? 'sequence' : 'scalar'),
      );
      return undefined;
    }
    const map = node;
    const pairs = this.pairs(map);
    if (pairs.has('required_engine_version'))
      return this.engineVersion(pairs.get('required_engine_version')!.value as Node);
    if (pairs.has('required_plugin_versions'))
      return this.pluginVersions(pairs.get('required_plugin_versions')!.value as Node);
    const kind = (['rule', 'macro', 'list'] as const).find((k) => pairs.has(k));
    if (!kind) {
      const keys = [...pairs.keys()].join(', ');
      this.diag(
        map,
        'LOAD_UNKNOWN_ITEM',
        `unknown item with keys [${keys}]: expected rule, macro, list, required_engine_version or required_plugin_versions; it is ignored`,
        'warning',
      );
      return undefined;
    }
    const base = this.named(map, kind, pairs);
    if (!base) return undefined;
    const val = (k: string): Node | undefined => (pairs.get(k)?.value ?? undefined) as Node | undefined;
    if (kind === 'list') return this.list(base, val('items'));
    if (kind === 'macro') return { kind, ...base, condition: this.text(val('condition'), 'condition') };
    return this.rule(base, val);
  }

  /** The item's keys (plain strings only) and their pairs. */
  private pairs(map: YAMLMap<unknown, unknown>): Map<string, Pair<unknown, unknown>> {
    const pairs = new Map<string, Pair<unknown, unknown>>();
    for (const pair of map.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (k === undefined) {
        this.diag(pair.key as Node, 'LOAD_ERR_YAML_VALIDATE', 'item keys must be plain strings');
        continue;
      }
      pairs.set(k, pair);
    }
    return pairs;
  }

  private engineVersion(v: Node): RuleFileItem | undefined {
    this.kind = 'required_engine_version';
    if (!isScalar(v) || v.value === null || typeof v.value === 'object') {
      this.diag(
        v,
        'LOAD_ERR_YAML_VALIDATE',
        'required_engine_version must be a version such as "0.57.0" (or a number)',
      );
      return undefined;
    }
    return { kind: 'required_engine_version', version: scalarText(v.value), pos: this.pos(v) };
  }

  private pluginVersions(v: Node): RuleFileItem | undefined {
    this.kind = 'required_plugin_versions';
    if (!isSeq(v)) {
      this.diag(v, 'LOAD_ERR_YAML_VALIDATE', 'required_plugin_versions must be a sequence of {name, version}');
      return undefined;
    }
    const plugins: Array<{ name: string; version: string }> = [];
    for (const p of v.items) {
      const js = (p as Node).toJSON() as Record<string, unknown> | null;
      if (!js || typeof js !== 'object' || typeof js.name !== 'string' || js.version === undefined) {
        this.diag(p as Node, 'LOAD_ERR_YAML_VALIDATE', 'each required plugin needs a "name" and a "version"');
        continue;
      }
      plugins.push({ name: js.name, version: scalarText(js.version) });
    }
    return { kind: 'required_plugin_versions', plugins, pos: this.pos(v) };
  }

  /** What lists, macros and rules share: the name, unknown keys warned about, append and override. */
  private named(
    map: YAMLMap<unknown, unknown>,
    kind: 'rule' | 'macro' | 'list',
    pairs: Map<string, Pair<unknown, unknown>>,
  ) {
    this.kind = kind;
    const nameNode = pairs.get(kind)!.value as Node;
    if (!isScalar(nameNode) || nameNode.value === null || nameNode.value === '' || typeof nameNode.value === 'object') {
      this.itemName = '';
      this.diag(nameNode ?? map, 'LOAD_ERR_YAML_VALIDATE', `${kind} name must be a non-empty string`);
      return undefined;
    }
    const name = scalarText(nameNode.value);
    this.itemName = name;
    for (const [k, pair] of pairs) {
      if (!KNOWN_KEYS[kind].has(k)) {
        const hint = [...KNOWN_KEYS[kind]].find((x) => x.replace(/[-_]/g, '') === k.replace(/[-_]/g, '').toLowerCase());
        this.diag(
          pair.key as Node,
          'LOAD_UNKNOWN_KEY',
          `unknown key '${k}' in ${kind} '${name}'${hint ? `; did you mean '${hint}'?` : ''}; it is ignored`,
          'warning',
        );
      }
    }
    const keys = new Set(pairs.keys());
    const append = this.bool((pairs.get('append')?.value ?? undefined) as Node | undefined, 'append') ?? false;
    const override = this.override((pairs.get('override')?.value ?? undefined) as Node | undefined, kind);
    return { name, pos: this.pos(map), keys, append, override };
  }

  private list(base: NonNullable<ReturnType<ItemReader['named']>>, itemsNode: Node | undefined): RuleFileItem {
    let items: Array<Located<string>> | undefined;
    if (itemsNode !== undefined || base.keys.has('items')) {
      if (itemsNode === undefined || itemsNode === null || (isScalar(itemsNode) && itemsNode.value === null))
        items = [];
      else if (!isSeq(itemsNode))
        this.diag(
          itemsNode,
          'LOAD_ERR_YAML_VALIDATE',
          `'items' of list '${base.name}' must be a sequence, such as [a, b]`,
        );
      else {
        items = [];
        for (const it of itemsNode.items) {
          const n = it as Node;
          if (!isScalar(n) || n.value === null || typeof n.value === 'object') {
            this.diag(n, 'LOAD_ERR_YAML_VALIDATE', `items of list '${base.name}' must be strings or numbers`);
            continue;
          }
          items.push({ value: scalarText(n.value), pos: this.pos(n) });
        }
      }
    }
    return { kind: 'list', ...base, items };
  }

  private rule(base: NonNullable<ReturnType<ItemReader['named']>>, val: (k: string) => Node | undefined): RuleFileItem {
    const prioNode = val('priority');
    let priority: Located<(typeof PRIORITIES)[number]> | undefined;
    if (prioNode !== undefined) {
      const raw = isScalar(prioNode) ? String(prioNode.value) : '';
      const p = parsePriority(raw);
      if (!p)
        this.diag(
          prioNode,
          'LOAD_ERR_YAML_VALIDATE',
          `invalid priority '${raw}': use one of ${PRIORITIES.join(', ')} (case-insensitive; 'info' is accepted)`,
        );
      else priority = { value: p, pos: this.pos(prioNode) };
    }
    const sourceNode = val('source');
    return {
      kind: 'rule',
      ...base,
      desc: this.text(val('desc'), 'desc')?.text,
      condition: this.text(val('condition'), 'condition'),
      output: this.text(val('output'), 'output'),
      priority,
      tags: this.strings(val('tags'), 'tags'),
      enabled: this.bool(val('enabled'), 'enabled'),
      source: sourceNode !== undefined && isScalar(sourceNode) ? String(sourceNode.value) : undefined,
      exceptions: this.exceptions(val('exceptions')),
      warnEvttypes: this.bool(val('warn_evttypes'), 'warn_evttypes'),
      skipIfUnknownFilter: this.bool(val('skip-if-unknown-filter'), 'skip-if-unknown-filter'),
    };
  }

  private text(node: Node | undefined, key: string): SourceText | undefined {
    if (node === undefined || node === null) return undefined;
    if (!isScalar(node) || typeof node.value === 'object') {
      this.diag(node, 'LOAD_ERR_YAML_VALIDATE', `'${key}' must be a string`);
      return undefined;
    }
    const value = node.value === null ? '' : scalarText(node.value);
    const [start, end] = node.range ?? [0, 0];
    return SourceText.fromScalar(value, this.file, this.src, start, end, this.lc);
  }

  private bool(node: Node | undefined, key: string): boolean | undefined {
    if (node === undefined || node === null) return undefined;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    if (isScalar(node) && (node.value === 'true' || node.value === 'false')) return node.value === 'true';
    this.diag(node, 'LOAD_ERR_YAML_VALIDATE', `'${key}' must be true or false`);
    return undefined;
  }

  private strings(node: Node | undefined, key: string): string[] | undefined {
    if (node === undefined || node === null) return undefined;
    if (isScalar(node) && node.value === null) return [];
    if (!isSeq(node)) {
      this.diag(node, 'LOAD_ERR_YAML_VALIDATE', `'${key}' must be a sequence of strings, such as [a, b]`);
      return undefined;
    }
    const out: string[] = [];
    for (const it of node.items) {
      if (isScalar(it) && it.value !== null && typeof it.value !== 'object') out.push(scalarText(it.value));
      else this.diag(it as Node, 'LOAD_ERR_YAML_VALIDATE', `'${key}' entries must be strings`);
    }
    return out;
  }

  private override(node: Node | undefined, kind: string): Map<string, OverrideMode> | undefined {
    if (node === undefined || node === null) return undefined;
    if (!isMap(node)) {
      this.diag(
        node,
        'LOAD_ERR_YAML_VALIDATE',
        `'override' must map keys to append or replace, such as {condition: append}`,
      );
      return undefined;
    }
    const out = new Map<string, OverrideMode>();
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      const v = isScalar(pair.value) ? String(pair.value.value) : '';
      if (v !== 'append' && v !== 'replace') {
        this.diag(
          pair.value as Node,
          'LOAD_ERR_YAML_VALIDATE',
          `override of '${k}' in ${kind} must be 'append' or 'replace', got '${v}'`,
        );
        continue;
      }
      out.set(k, v);
    }
    return out;
  }

  private exceptions(node: Node | undefined): ExceptionDef[] | undefined {
    if (node === undefined || node === null) return undefined;
    if (!isSeq(node)) {
      this.diag(node, 'LOAD_ERR_YAML_VALIDATE', "'exceptions' must be a sequence of {name, fields, comps, values}");
      return undefined;
    }
    const out: ExceptionDef[] = [];
    for (const it of node.items) {
      const n = it as Node;
      const js = isMap(n) ? (n.toJSON() as Record<string, unknown>) : undefined;
      if (!js || typeof js.name !== 'string' || js.name === '') {
        const saved = [this.kind, this.itemName] as const;
        this.kind = 'exception';
        this.itemName = '';
        this.diag(n, 'LOAD_ERR_YAML_VALIDATE', `each exception of ${saved[0]} '${saved[1]}' needs a non-empty "name"`);
        [this.kind, this.itemName] = saved;
        continue;
      }
      const okStrings = (x: unknown): boolean =>
        x === undefined || typeof x === 'string' || (Array.isArray(x) && x.every((y) => typeof y === 'string'));
      if (!okStrings(js.fields) || !okStrings(js.comps)) {
        this.diag(
          n,
          'LOAD_ERR_YAML_VALIDATE',
          `exception '${js.name}': 'fields' and 'comps' must be a string or a sequence of strings`,
        );
        continue;
      }
      const values = js.values === undefined || js.values === null ? undefined : js.values;
      if (values !== undefined && !Array.isArray(values)) {
        this.diag(n, 'LOAD_ERR_YAML_VALIDATE', `exception '${js.name}': 'values' must be a sequence`);
        continue;
      }
      const norm = values?.map((row: unknown) =>
        Array.isArray(row) ? row.map((c: unknown) => (Array.isArray(c) ? c.map(String) : String(c))) : String(row),
      );
      out.push({
        name: js.name,
        fields: js.fields as string | string[] | undefined,
        comps: js.comps as string | string[] | undefined,
        values: norm,
        pos: this.pos(n),
      });
    }
    return out;
  }
}

/** A YAML scalar's value as text (strings as written, numbers and booleans printed); '' for anything else. */
function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return '';
}
