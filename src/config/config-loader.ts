import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type Config } from './config-schema.js';

import { DEFAULT_CONFIG_PATH } from '../defaults.js';
import { errorMessage, ioErrorText } from '../event/index.js';
export { DEFAULT_CONFIG_PATH };
/** Environment variables `PEREGRINE_<PATH>` override single keys, e.g. PEREGRINE_LOG__LEVEL=debug. */
export const ENV_PREFIX = 'PEREGRINE_';

/** Every problem of a configuration, each as `path: what is wrong, got value` (with file:line). */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * Loads and validates a configuration: YAML text (or none for the embedded defaults), then
 * environment overrides (`PEREGRINE_A__B=value`, `__` between keys; JSON values accepted), then
 * `*File` keys replaced by the trimmed contents of the file they name (secrets). Throws
 * {@link ConfigError} listing every problem at once.
 */
export function loadConfig(text: string | undefined, file = '<config>', env: NodeJS.ProcessEnv = {}): Config {
  const lc = new LineCounter();
  let raw: unknown = {};
  const problems: string[] = [];
  const doc = text === undefined ? undefined : parseDocument(text, { lineCounter: lc });
  if (doc) {
    for (const e of doc.errors) {
      const p = lc.linePos(e.pos[0]);
      problems.push(`${file}:${p.line}:${p.col}: invalid YAML: ${e.message.split('\n')[0]}`);
    }
    if (problems.length) throw new ConfigError(problems);
    try {
      raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      // unresolved aliases, alias bombs: the parser reports them only here
      throw new ConfigError([`${file}: invalid YAML: ${errorMessage(err).split('\n')[0]}`]);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError([`${file}: the configuration must be a YAML mapping of keys`]);
  applyEnv(raw as Record<string, unknown>, env, problems);
  const fromFiles: string[] = [];
  resolveFiles(raw, [], problems, fromFiles);
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(describe(i, raw, file, doc, lc, fromFiles));
  }
  if (problems.length) throw new ConfigError(problems);
  return parsed.data!;
}

/** Reads and validates a configuration file (missing file: embedded defaults only when allowed). */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, allowMissing = false): Config {
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!allowMissing) throw new ConfigError([`${path}: cannot read: ${ioErrorText(err)}`]);
  }
  return loadConfig(text, path, env);
}

/** PEREGRINE_ variables that are not configuration keys. */
const NOT_CONFIG: ReadonlySet<string> = new Set([
  'PEREGRINE_LOG_LEVEL',
  'PEREGRINE_FALCO_REFERENCE',
  'PEREGRINE_SENSOR_LOADER',
]);

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(ENV_PREFIX) || v === undefined || NOT_CONFIG.has(k)) continue;
    const path = k
      .slice(ENV_PREFIX.length)
      .toLowerCase()
      .split('__')
      .map((p) => p.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let value: unknown = v;
    try {
      value = JSON.parse(v);
    } catch {
      /* a plain string */
    }
    let node: Record<string, unknown> = raw;
    for (const seg of path.slice(0, -1)) {
      const key = /^\d+$/.test(seg) ? Number(seg) : seg;
      const next = (node as Record<string | number, unknown>)[key];
      if (next === undefined) (node as Record<string | number, unknown>)[key] = {};
      else if (typeof next !== 'object' || next === null) {
        problems.push(`${k}: cannot override ${path.join('.')}: ${seg} is not a mapping`);
        return;
      }
      node = (node as Record<string | number, unknown>)[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
}

/**
 * `secretFile: /path` → `secret: <contents>` (recursively). The paths of values read this way
 * go to `fromFiles` (as `a.b.0.c`): they are secrets, never printed.
 */
function resolveFiles(node: unknown, path: Array<string | number>, problems: string[], fromFiles: string[]): void {
  if (Array.isArray(node)) node.forEach((x, i) => resolveFiles(x, [...path, i], problems, fromFiles));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (key.endsWith('File') && typeof o[key] === 'string' && key !== 'File') {
        const target = key.slice(0, -'File'.length);
        try {
          o[target] = readFileSync(o[key], 'utf8').trim();
          fromFiles.push([...path, target].join('.'));
          delete o[key];
        } catch (err) {
          problems.push(`${[...path, key].join('.')}: cannot read ${JSON.stringify(o[key])}: ${ioErrorText(err)}`);
        }
      } else resolveFiles(o[key], [...path, key], problems, fromFiles);
    }
  }
}

function pathText(p: ReadonlyArray<PropertyKey>): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i ? '.' : ''}${String(s)}`)).join('') || '(top level)';
}

function describe(
  issue: z.core.$ZodIssue,
  raw: unknown,
  file: string,
  doc: ReturnType<typeof parseDocument> | undefined,
  lc: LineCounter,
  fromFiles: readonly string[],
): string {
  let got: unknown = raw;
  for (const s of issue.path)
    got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[s] : undefined;
  let where = file;
  if (doc) {
    for (let n = issue.path.length; n >= 0; n--) {
      const node = doc.getIn(issue.path.slice(0, n) as Array<string | number>, true) as
        { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        const p = lc.linePos(node.range[0]);
        where = `${file}:${p.line}:${p.col}`;
        break;
      }
    }
  }
  const dotted = issue.path.map(String).join('.');
  const secret = fromFiles.some(
    (f) => dotted === f || dotted.startsWith(`${f}.`) || f.startsWith(`${dotted}.`) || dotted === '',
  );
  const shown = got === undefined ? '' : `, got ${secret ? '<redacted>' : maskValue(issue.path, got)}`;
  return `${where}: ${pathText(issue.path)}: ${issue.message}${shown}`;
}

const SECRET_KEY = /secret|token|password|passwd|routing|apikey|api_key|credential/i;

/** A value for an error message: secrets redacted, URLs without their path, query or user info. */
function maskValue(path: ReadonlyArray<PropertyKey>, v: unknown): string {
  if (path.some((p) => typeof p === 'string' && SECRET_KEY.test(p))) return '<redacted>';
  if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    try {
      const u = new URL(v);
      return JSON.stringify(`${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/…' : ''}`);
    } catch {
      return '"<unparsable URL>"';
    }
  }
  return (JSON.stringify(v) ?? String(v)).slice(0, 80);
}
