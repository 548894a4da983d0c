import type { FieldValue } from './field-value.js';
import { EVT_TYPE_SLOT, type FieldKeyTable } from './field-key-table.js';

/**
 * One syscall event: field values stored by slot (see {@link FieldKeyTable}); a slot holding
 * `undefined` is a missing field. Keys that had no slot live in `overflow`.
 * Events are immutable once decoded.
 */
export class SyscallEvent {
  constructor(
    readonly values: ReadonlyArray<FieldValue | undefined>,
    readonly overflow?: ReadonlyMap<string, FieldValue>,
  ) {}

  /** `evt.type`, or '' when missing. */
  get type(): string {
    const t = this.values[EVT_TYPE_SLOT];
    return typeof t === 'string' ? t : '';
  }

  /** Value of a canonical key (slow path: for tools and tests, not for rules). */
  get(table: FieldKeyTable, key: string): FieldValue | undefined {
    const id = table.idOf(key);
    return id >= 0 ? this.values[id] : this.overflow?.get(key);
  }
}
