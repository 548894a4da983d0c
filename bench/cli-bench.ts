/**
 * CLI start time: wall time of `peregrine --help` and of `peregrine rules validate` on a small
 * rules file, against bare `node -e 0` in the same run (median of 9 of each, interleaved so
 * machine noise hits all three alike). Rule authors run these in pre-commit hooks and CI.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/defaults.js';

const RULE =
  '- rule: Read shadow\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: "%proc.name read %fd.name"\n  priority: WARNING\n';

function wallMs(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`bench cli: node ${args.join(' ')} exited ${r.status}`);
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export function cliSuite(): Record<string, number> {
  const file = join(mkdtempSync(join(tmpdir(), 'cli-bench-')), 'small.yaml');
  writeFileSync(file, RULE);
  const bin = join(PROJECT_ROOT, 'bin/peregrine.js');
  const node: number[] = [];
  const help: number[] = [];
  const validate: number[] = [];
  wallMs([bin, '--help']); // warm the file cache
  for (let i = 0; i < 9; i++) {
    node.push(wallMs(['-e', '0']));
    help.push(wallMs([bin, '--help']));
    validate.push(wallMs([bin, 'rules', 'validate', file]));
  }
  const n = median(node);
  return {
    helpMs: Math.round(median(help)),
    validateMs: Math.round(median(validate)),
    nodeMs: Math.round(n),
    helpRatio: Math.round((median(help) / n) * 100) / 100,
    validateRatio: Math.round((median(validate) / n) * 100) / 100,
  };
}
