import { RE2JS } from 're2js';
import { ConditionError } from './condition-error.js';
import { errorMessage } from '../event/index.js';

/** A compiled pattern with linear-time matching (RE2 semantics, no backtracking). */
export type StringTest = (s: string) => boolean;

/** `regex`: RE2 syntax, the whole value must match (as libsinsp's RE2::FullMatch). */
export function compileRegex(pattern: string, start: number, end: number): StringTest {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    throw new ConditionError(
      'LOAD_ERR_COMPILE_CONDITION',
      `invalid regular expression ${JSON.stringify(pattern)}: ${errorMessage(err)} (RE2 syntax; no backreferences or lookaround)`,
      start,
      end,
    );
  }
  return (s) => re.matcher(s).matches();
}

/**
 * `glob` / `iglob`: fnmatch(3) without flags: `*` matches any run (including `/`), `?` one
 * character, `[...]` a class (`[!...]` or `[^...]` negated), `\` escapes. Translated to RE2.
 */
export function compileGlob(pattern: string, caseInsensitive: boolean, start: number, end: number): StringTest {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRe(pattern[++i]);
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      let neg = false;
      if (body[0] === '!' || body[0] === '^') {
        neg = true;
        body = body.slice(1);
      }
      out += `[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\[/g, '\\[')}]`;
      i = close;
    } else out += escapeRe(c);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(out, RE2JS.DOTALL | (caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0));
  } catch (err) {
    throw new ConditionError(
      'LOAD_ERR_COMPILE_CONDITION',
      `invalid glob ${JSON.stringify(pattern)}: ${errorMessage(err)}`,
      start,
      end,
    );
  }
  return (s) => re.matcher(s).matches();
}

function escapeRe(c: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(c) ? `\\${c}` : c;
}

/**
 * `pmatch`: true when the path equals one of the prefixes or lies below one of them
 * (component-wise: `/usr/lib` matches `/usr/lib/x`, not `/usr/libx`).
 */
export function compilePathPrefixes(prefixes: readonly string[]): StringTest {
  const exact = new Set<string>();
  const dirs: string[] = [];
  for (const p of prefixes) {
    const trimmed = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
    exact.add(trimmed);
    dirs.push(trimmed === '/' ? '/' : `${trimmed}/`);
  }
  return (s) => {
    if (exact.has(s)) return true;
    for (const d of dirs) if (s.startsWith(d)) return true;
    return false;
  };
}
