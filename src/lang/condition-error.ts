import type { LoadCode } from './diagnostic.js';
/**
 * A problem found in a condition or output string, located by offsets into that string.
 * The rules loader maps offsets to file:line:column.
 */
export class ConditionError extends Error {
  constructor(
    readonly code: LoadCode,
    message: string,
    readonly start: number,
    readonly end: number = start + 1,
  ) {
    super(message);
    this.name = 'ConditionError';
  }
}
