/**
 * Kubernetes field and label selectors as the API server parses them (the subset of the grammar
 * Peregrine and kubectl use): `a=b,c!=d` for fields; `k=v`, `k==v`, `k!=v`, `k`, `!k`,
 * `k in (a,b)`, `k notin (a,b)` for labels.
 */

export type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
  };
};

/** Thrown for a selector the server rejects (answered 400 BadRequest). */
export class SelectorError extends Error {}

type Matcher = (o: Obj) => boolean;

/** Splits on commas outside parentheses. */
function terms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Reads a dotted path (`spec.nodeName`) of an object as a string ('' when absent). */
export function fieldOf(o: Obj, path: string): string {
  let v: unknown = o;
  for (const p of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** A field selector over the fields `supported` (others are rejected, as the API server does). */
export function fieldSelector(s: string | null, supported: readonly string[]): Matcher {
  if (!s) return () => true;
  const ms = terms(s).map((t): Matcher => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw new SelectorError(`invalid field selector: ${t}`);
    const [, field, op, value] = m;
    if (!supported.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    return op === '!=' ? (o) => fieldOf(o, field) !== value : (o) => fieldOf(o, field) === value;
  });
  return (o) => ms.every((m) => m(o));
}

/** A label selector. */
export function labelSelector(s: string | null): Matcher {
  if (!s) return () => true;
  const ms = terms(s).map((t): Matcher => {
    const labels = (o: Obj): Record<string, string> => o.metadata.labels ?? {};
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    if (m) {
      const [, k, op, list] = m;
      const vals = list.split(',').map((v) => v.trim());
      return op === 'in'
        ? (o) => k in labels(o) && vals.includes(labels(o)[k])
        : (o) => !(k in labels(o)) || !vals.includes(labels(o)[k]);
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(t);
    if (m) {
      const [, k, op, v] = m;
      return op === '!=' ? (o) => labels(o)[k] !== v : (o) => labels(o)[k] === v;
    }
    m = /^(!?)([\w./-]+)$/.exec(t);
    if (m) {
      const [, not, k] = m;
      return not ? (o) => !(k in labels(o)) : (o) => k in labels(o);
    }
    throw new SelectorError(`unable to parse requirement: ${t}`);
  });
  return (o) => ms.every((m) => m(o));
}
