import { spawnSync } from 'node:child_process';
import { PEREGRINE } from './daemon.js';

/** Runs the built `peregrine` binary to completion: exit code, stdout (`out`), stderr (`err`). */
export function peregrine(args: readonly string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [PEREGRINE, ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
