/**
 * The three patch types the API server accepts for built-in resources: JSON merge patch
 * (RFC 7386), strategic merge patch (treated as a merge patch: lists are replaced, not merged by
 * key — see README.md), and JSON patch (RFC 6902: add, remove, replace, test).
 */

export class PatchError extends Error {
  constructor(
    message: string,
    readonly status = 422,
  ) {
    super(message);
  }
}

/** RFC 7386: objects merge recursively, `null` removes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch is a list of operations', 400);
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const op of ops as Array<{ op?: string; path?: string; value?: unknown }>) {
    const parts = (op.path ?? '')
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) throw new PatchError(`bad path ${op.path}`);
    let parent: unknown = doc;
    for (const p of parts) {
      parent = (parent as Record<string, unknown> | undefined)?.[p];
      if (parent === undefined) throw new PatchError(`path ${op.path} does not exist`);
    }
    const container = parent as Record<string | number, unknown>;
    const key = Array.isArray(container) && last === '-' ? String((container as unknown[]).length) : last;
    switch (op.op) {
      case 'add':
        if (Array.isArray(container)) (container as unknown[]).splice(Number(key), 0, op.value);
        else container[key] = op.value;
        break;
      case 'replace':
        if (!(key in container)) throw new PatchError(`path ${op.path} does not exist`);
        container[key] = op.value;
        break;
      case 'remove':
        if (!(key in container)) throw new PatchError(`path ${op.path} does not exist`);
        if (Array.isArray(container)) (container as unknown[]).splice(Number(key), 1);
        else delete container[key];
        break;
      case 'test':
        if (JSON.stringify(container[key]) !== JSON.stringify(op.value))
          throw new PatchError(`test failed at ${op.path}`);
        break;
      default:
        throw new PatchError(`unsupported JSON patch operation ${op.op}`, 400);
    }
  }
  return doc;
}
