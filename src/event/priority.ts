/** Falco priorities, most severe first; the numeric value is Falco's (lower is more severe). */
export const PRIORITIES = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
] as const;
export type Priority = (typeof PRIORITIES)[number];

const BY_LOWER: ReadonlyMap<string, Priority> = new Map<string, Priority>([
  ...PRIORITIES.map((p) => [p.toLowerCase(), p] as [string, Priority]),
  ['info', 'Informational'],
]);

/** Parses a priority case-insensitively (`WARNING`, `info`); undefined when unknown. */
export function parsePriority(text: string): Priority | undefined {
  return BY_LOWER.get(text.trim().toLowerCase());
}

/** Severity rank: 0 = Emergency … 7 = Debug. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/** True when `p` is at least as severe as `min`. */
export function atLeast(p: Priority, min: Priority): boolean {
  return priorityRank(p) <= priorityRank(min);
}
