/**
 * A set of event types, possibly complemented: `{neg:false,set}` is exactly `set`,
 * `{neg:true,set}` is every type except `set`. Used to index rules by event type.
 */
export interface TypeSet {
  readonly neg: boolean;
  readonly set: ReadonlySet<string>;
}

/** For an expression: the types for which it may be true (`t`) and may be false (`f`). */
export interface TypeInfo {
  readonly t: TypeSet;
  readonly f: TypeSet;
}

const EMPTY: ReadonlySet<string> = new Set();
export const ALL_TYPES: TypeSet = { neg: true, set: EMPTY };
export const NO_TYPES: TypeSet = { neg: false, set: EMPTY };
/** An expression that says nothing about the event type. */
export const UNKNOWN_TYPES: TypeInfo = { t: ALL_TYPES, f: ALL_TYPES };

export function exactly(types: Iterable<string>): TypeSet {
  return { neg: false, set: new Set(types) };
}

export function complement(a: TypeSet): TypeSet {
  return { neg: !a.neg, set: a.set };
}

export function intersect(a: TypeSet, b: TypeSet): TypeSet {
  if (!a.neg && !b.neg) return { neg: false, set: new Set([...a.set].filter((x) => b.set.has(x))) };
  if (!a.neg && b.neg) return { neg: false, set: new Set([...a.set].filter((x) => !b.set.has(x))) };
  if (a.neg && !b.neg) return intersect(b, a);
  return { neg: true, set: new Set([...a.set, ...b.set]) };
}

export function union(a: TypeSet, b: TypeSet): TypeSet {
  return complement(intersect(complement(a), complement(b)));
}

export function andInfo(items: readonly TypeInfo[]): TypeInfo {
  return items.reduce((acc, x) => ({ t: intersect(acc.t, x.t), f: union(acc.f, x.f) }));
}

export function orInfo(items: readonly TypeInfo[]): TypeInfo {
  return items.reduce((acc, x) => ({ t: union(acc.t, x.t), f: intersect(acc.f, x.f) }));
}

export function notInfo(x: TypeInfo): TypeInfo {
  return { t: x.f, f: x.t };
}

/** True when the set is every event type (the rule constrains none). */
export function isAll(s: TypeSet): boolean {
  return s.neg && s.set.size === 0;
}

/** True when `type` is in the set. */
export function hasType(s: TypeSet, type: string): boolean {
  return s.neg !== s.set.has(type);
}
