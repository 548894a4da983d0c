import { PathWatcher } from './path-watcher.js';
import { errorMessage, type FieldKeyTable } from '../event/index.js';
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
  private watcher: PathWatcher | undefined;

  constructor(
    private readonly paths: readonly string[],
    private readonly table: FieldKeyTable,
    private readonly engineOptions: EngineOptions,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly onReloadFailure: (reason: string, diagnostics: string) => void,
    /** Told of each ruleset swapped in (the first one included). */
    private readonly onLoaded: (engine: Engine) => void = () => undefined,
  ) {}

  get engine(): Engine {
    if (!this.current) throw new Error('rules not loaded yet');
    return this.current;
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  /**
   * Lifecycle start: the first load (throws {@link RulesLoadError} with the diagnostics when the
   * rules do not load), then watching the rules files for changes.
   */
  async start(): Promise<void> {
    this.load('start');
    this.watch();
  }

  /**
   * Loads (or reloads) the rules; returns whether the new ruleset is running. Once rules run,
   * it never throws: any failure (diagnostics, or an exception anywhere in loading) keeps the
   * previous ruleset, is counted and reported. The first load throws {@link RulesLoadError}.
   */
  load(reason: string): boolean {
    let built: Engine | { diag: string; errors: number };
    try {
      const load = loadRules(this.paths, this.table);
      if (load.ok) built = new Engine(load, this.engineOptions);
      else {
        const texts = new Map(load.files.map((f) => [f.name, f.text]));
        built = {
          diag: load.diagnostics.errors.map((d) => formatDiagnostic(d, texts.get(d.file))).join('\n'),
          errors: load.diagnostics.errors.length,
        };
      }
    } catch (err) {
      // a bug in the loader must not end the daemon: this ruleset is rejected like a bad one
      this.log.error(
        { reason, err: err instanceof Error ? (err.stack ?? err.message) : errorMessage(err) },
        'rules loader failed unexpectedly',
      );
      built = { diag: `internal error while loading the rules: ${errorMessage(err)}`, errors: 1 };
    }
    if (!(built instanceof Engine)) return this.failed(reason, built.diag, built.errors);
    const engine = built;
    const load = engine.load;
    this.current = engine; // the swap: one assignment, between batches
    this.metrics.reloads.inc({ outcome: 'success' });
    this.metrics.rulesInfo.reset();
    this.metrics.rulesInfo.set({ sha256: load.sha256, rules: String(engine.active.length) }, 1);
    this.log.info(
      { reason, rules: engine.active.length, sha256: load.sha256, warnings: load.diagnostics.warnings.length },
      'rules loaded',
    );
    this.onLoaded(engine);
    return true;
  }

  private failed(reason: string, diag: string, errors: number): false {
    this.metrics.reloads.inc({ outcome: 'failure' });
    if (!this.current) throw new RulesLoadError(diag);
    this.log.error({ reason, errors }, 'rules reload failed; the previous rules keep running');
    this.onReloadFailure(reason, diag);
    return false;
  }

  /**
   * Reloads when a rule path changes (debounced). Only changes that can alter the rules count:
   * a rules file (`*.yaml`/`*.yml`, not `*.test.yaml`) in a watched directory, a watched file
   * itself, or kubelet's `..data` symlink swap; a log or editor file written beside them does not.
   */
  watch(): void {
    this.watcher = new PathWatcher(this.paths, isRulesFileName, () => this.load('file change'), this.log, 'rules');
    this.watcher.start();
  }

  /** Stops watching (no reload starts after this). Idempotent. */
  async shutdown(): Promise<void> {
    this.watcher?.stop();
  }
}

/** Names a rules directory contributes (see readRuleSources). */
function isRulesFileName(name: string): boolean {
  return /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name);
}
