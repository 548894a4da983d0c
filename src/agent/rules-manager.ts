import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { statSync } from 'node:fs';
import type { FieldKeyTable } from '../event/index.js';
import { Engine, loadRules, type EngineOptions } from '../engine/index.js';
import { formatDiagnostic } from '../lang/index.js';
import type { AgentMetrics, Logger } from '../telemetry/index.js';

/** Rules that failed to load: the diagnostics as text. */
export class RulesLoadError extends Error {
  constructor(readonly diagnostics: string) {
    super(`rules do not load:\n${diagnostics}`);
    this.name = 'RulesLoadError';
  }
}

/**
 * Owns the running ruleset. A reload compiles the new rules aside and swaps the engine in one
 * assignment only when they load cleanly; readers take `engine` once per batch, so no event is
 * evaluated by a half-loaded ruleset and none is skipped. A failed reload keeps the previous
 * engine and reports. Watches the rule paths (files and directories, including ConfigMap
 * `..data` symlink swaps, by watching their directories) with a short debounce.
 */
export class RulesManager {
  private current: Engine | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly paths: readonly string[],
    private readonly table: FieldKeyTable,
    private readonly engineOptions: EngineOptions,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly onReloadFailure: (reason: string, diagnostics: string) => void,
  ) {}

  get engine(): Engine {
    if (!this.current) throw new Error('rules not loaded yet');
    return this.current;
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  /** Loads (or reloads) the rules; returns whether the new ruleset is running. */
  load(reason: string): boolean {
    const load = loadRules(this.paths, this.table);
    if (!load.ok) {
      const texts = new Map(load.files.map((f) => [f.name, f.text]));
      const diag = load.diagnostics.errors.map((d) => formatDiagnostic(d, texts.get(d.file))).join('\n');
      this.metrics.reloads.inc({ outcome: 'failure' });
      if (!this.current) throw new RulesLoadError(diag);
      this.log.error({ reason, errors: load.diagnostics.errors.length }, 'rules reload failed; the previous rules keep running');
      this.onReloadFailure(reason, diag);
      return false;
    }
    const engine = new Engine(load, this.engineOptions);
    this.current = engine; // the swap: one assignment, between batches
    this.metrics.reloads.inc({ outcome: 'success' });
    this.metrics.rulesInfo.reset();
    this.metrics.rulesInfo.set({ sha256: load.sha256, rules: String(engine.active.length) }, 1);
    this.log.info({ reason, rules: engine.active.length, sha256: load.sha256, warnings: load.diagnostics.warnings.length }, 'rules loaded');
    return true;
  }

  /** Reloads when a rule path changes (debounced). */
  watch(): void {
    const dirs = new Set<string>();
    for (const p of this.paths) {
      try {
        dirs.add(statSync(p).isDirectory() ? p : dirname(p));
      } catch {
        dirs.add(dirname(p));
      }
    }
    for (const d of dirs) {
      try {
        this.watchers.push(watch(d, () => this.schedule()));
      } catch (err) {
        this.log.warn({ dir: d, err: (err as Error).message }, 'cannot watch rules directory; reload with SIGHUP');
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load('file change'), 300);
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
