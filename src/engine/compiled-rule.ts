import type { Priority } from '../event/index.js';
import type { Predicate, SourcePos, TypeSet } from '../lang/index.js';
import type { OutputFormat } from './output-format.js';

/** A rule ready to run: its predicate, the event types it can match, its output. Immutable. */
export interface CompiledRule {
  readonly name: string;
  readonly desc: string;
  readonly priority: Priority;
  readonly tags: readonly string[];
  readonly source: string;
  readonly enabled: boolean;
  /** Position in load order. */
  readonly order: number;
  readonly pred: Predicate;
  /** Event types for which the condition may be true (a complemented set means "all but"). */
  readonly types: TypeSet;
  readonly output: OutputFormat;
  readonly pos: SourcePos;
  /** The condition after list/macro/override resolution, as text (for tools). */
  readonly conditionText: string;
  /**
   * Checks in the condition (exceptions included) with every macro expanded in place. Evaluation
   * does not pay this: large macros run once per event (see `MACRO_MEMO_THRESHOLD`).
   */
  readonly expandedSize: number;
}
