/** Rule files that attack the loader and the engine (shared by the hardening tests). */

/** One rule with `cond`. */
export const RULE = (cond: string, name = 'R'): string =>
  `- rule: ${name}\n  desc: d\n  condition: ${cond}\n  output: "%proc.name"\n  priority: warning\n`;

/** `n` macros, each using the one before twice: 2^n checks when written out. */
export function exponentialMacros(n: number): string {
  const lines = ['- macro: m0\n  condition: proc.name = never-this-name\n'];
  for (let i = 1; i <= n; i++) lines.push(`- macro: m${i}\n  condition: (m${i - 1} or m${i - 1})\n`);
  lines.push(RULE(`evt.type = openat and m${n}`, 'Exponential'), RULE('evt.type = openat and proc.name = cat', 'Cat'));
  return lines.join('');
}
