import { renameSync, writeFileSync } from 'node:fs';

/**
 * Replaces `path` with `text` so that a reader (or the next start after a crash) sees the old
 * content or the new, never a part: written beside it, then renamed over it. Owner-only mode.
 */
export function writeFileAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
