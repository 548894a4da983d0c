import { FieldCatalog } from './field-catalog.js';
import type { FieldType } from './field-value.js';

/** Slot of `evt.type`, fixed so the engine's index reads it without a lookup. */
export const EVT_TYPE_SLOT = 0;

/**
 * Interns canonical field keys (`proc.aname[2]`, `evt.arg.flags`) to small integer slots, so
 * an event stores its values in an array and compiled rules read them by index (the hot path
 * never hashes a string). Shared by the compiler and every decoder of one engine.
 *
 * Bounded: at most `capacity` keys. Keys seen after that are kept in the event's overflow map
 * (slower, never lost). Slots are never removed, so a key's slot is stable for the table's life.
 */
export class FieldKeyTable {
  private readonly ids = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly types: FieldType[] = [];

  constructor(
    readonly catalog: FieldCatalog = new FieldCatalog(),
    readonly capacity = 8192,
  ) {
    // Slots are created on first use (by the compiler for what rules read, by decoders for
    // what they write), so events only carry arrays as long as the fields in play.
    this.intern('evt.type');
  }

  /** Number of interned keys. */
  get size(): number {
    return this.keys.length;
  }

  /** Slot of a key, or -1 when the key has none. */
  idOf(key: string): number {
    return this.ids.get(key) ?? -1;
  }

  /** Slot of a key, creating it when there is room; -1 when the table is full. */
  intern(key: string): number {
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    if (this.keys.length >= this.capacity) return -1;
    const id = this.keys.length;
    this.ids.set(key, id);
    this.keys.push(key);
    this.types.push(this.typeOfKey(key));
    return id;
  }

  keyAt(id: number): string {
    return this.keys[id];
  }

  typeAt(id: number): FieldType {
    return this.types[id];
  }

  /** The catalog type of a canonical key; unknown keys are strings. */
  typeOfKey(key: string): FieldType {
    const m = /^([^[]+)(?:\[(.*)\])?$/s.exec(key);
    if (!m) return 'string';
    const resolved = this.catalog.resolve(m[1], m[2]);
    return resolved ? resolved.def.type : 'string';
  }
}
