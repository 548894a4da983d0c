import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';

/**
 * Calls `onChange` (debounced 300 ms) when one of `paths` changes: a watched file itself, a file
 * `relevant` accepts in a watched directory, or kubelet's `..data` symlink swap (ConfigMaps).
 * Directories are watched rather than files, so atomic replacements are seen. A directory that
 * cannot be watched is logged (SIGHUP still reloads).
 */
export class PathWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly paths: readonly string[],
    private readonly relevant: (name: string) => boolean,
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  start(): void {
    const dirs = new Map<string, (name: string) => boolean>();
    for (const p of this.paths) {
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        /* not there yet: watch its directory for it */
      }
      const dir = isDir ? p : dirname(p);
      const prev = dirs.get(dir);
      const own = isDir ? this.relevant : (n: string) => n === basename(p);
      dirs.set(dir, prev ? (n) => prev(n) || own(n) : own);
    }
    for (const [d, relevant] of dirs) {
      try {
        this.watchers.push(
          watch(d, (_event, name) => {
            if (name === null || name === '..data' || relevant(String(name))) this.schedule();
          }),
        );
      } catch (err) {
        this.log.warn(
          { dir: d, err: errorMessage(err) },
          `cannot watch the ${this.what} directory; reload with SIGHUP`,
        );
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onChange, 300);
  }

  /** Stops watching. Idempotent. */
  stop(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
