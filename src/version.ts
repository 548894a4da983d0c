import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from './defaults.js';

/** What this build is: the package's version and the commit it was built from. */
export interface BuildInfo {
  readonly version: string;
  /** Full commit id, with `-dirty` when the tree had changes; `unknown` outside a checkout. */
  readonly commit: string;
}

let cached: BuildInfo | undefined;

/**
 * The build's version and commit: from `build-info.json` beside `package.json` (written by
 * scripts/build-image into the image), else from git in a checkout, else `unknown`.
 */
export function buildInfo(root = PROJECT_ROOT): BuildInfo {
  if (cached && root === PROJECT_ROOT) return cached;
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version?: string }).version ?? version;
  } catch {
    /* not beside a package.json */
  }
  let commit = 'unknown';
  try {
    commit = (JSON.parse(readFileSync(`${root}build-info.json`, 'utf8')) as { commit?: string }).commit ?? commit;
  } catch {
    try {
      const git = (...args: string[]): string =>
        execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2_000 });
      commit = git('rev-parse', 'HEAD').trim();
      if (git('status', '--porcelain', '--untracked-files=no').trim()) commit += '-dirty';
    } catch {
      /* no git, or not a checkout */
    }
  }
  const info = { version, commit };
  if (root === PROJECT_ROOT) cached = info;
  return info;
}
