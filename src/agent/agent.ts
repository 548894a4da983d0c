import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import { FieldKeyTable, isoNanos, parsePriority, type Alert } from '../event/index.js';
import { EventPipeline } from '../pipeline/index.js';
import { BUNDLED_RULES } from '../project-paths.js';
import type { AlertSink, SinkObserver } from '../sinks/index.js';
import { buildSinks } from './build-sinks.js';
import { sourcePlugin, type EventSource } from '../sources/index.js';
import { AgentMetrics, HealthServer, silentLogger, type Logger } from '../telemetry/index.js';
import { RulesFetcher } from './rules-fetcher.js';
import { RulesManager } from './rules-manager.js';

export interface AgentOptions {
  readonly stdout?: NodeJS.WritableStream;
  readonly logger?: Logger;
  /** Replaces the configured rules (peregrine run --rules). */
  readonly rules?: readonly string[];
}

/**
 * The daemon: rules, sources, pipeline, sinks, metrics and health, with an explicit lifecycle.
 * `start()` starts downstream first (sinks, metrics, rules) then the sources; `shutdown()` stops
 * upstream first (sources), lets the pipeline drain, flushes the sinks. Idempotent.
 */
export class Agent {
  readonly metrics = new AgentMetrics();
  readonly table = new FieldKeyTable();
  readonly rules: RulesManager;
  private readonly fetcher: RulesFetcher | undefined;
  private readonly log: Logger;
  private sinks: AlertSink[] = [];
  private sources: EventSource[] = [];
  private pipeline: EventPipeline | undefined;
  private health: HealthServer | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly lastStats = new Map<string, Record<string, number>>();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly opts: AgentOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    const urls = opts.rules ? [] : config.rules.urls;
    this.fetcher = urls.length
      ? new RulesFetcher(urls, config.rules.cacheDir, this.log, () => this.rules.load('rules URL changed'), (url, why) => {
        this.metrics.reloads.inc({ outcome: 'fetch_failure' });
        this.log.error({ url, why }, 'rules URL fetch failed; the last good copy keeps running');
      })
      : undefined;
    const paths = [...(opts.rules ?? config.rules.paths).map((p) => (p === 'bundled' ? BUNDLED_RULES : p)), ...(this.fetcher?.paths ?? [])];
    const minPriority = config.rules.minPriority ? parsePriority(config.rules.minPriority) : undefined;
    this.rules = new RulesManager(paths, this.table, { ruleMatching: config.rules.ruleMatching, selection: { minPriority }, hostname: nodeName(config) },
      this.metrics, this.log, (reason, diag) => this.internalAlert(reason, diag));
  }

  /** Address of the metrics/health endpoint once started. */
  get metricsAddress(): string {
    return this.health?.address ?? '';
  }

  async start(): Promise<void> {
    const observer: SinkObserver = {
      outcome: (sink, outcome, n, reason) => this.metrics.alerts.inc({ sink, outcome, reason: reason ?? '' }, n),
      latency: (sink, seconds) => this.metrics.deliveryLatency.observe({ sink }, seconds),
    };
    this.sinks = buildSinks(this.config, { stdout: this.opts.stdout, logger: this.log, observer }); // throws SpoolError: start-up fails saying which directory
    this.metrics.watchSinks(() => this.sinks);
    await this.fetcher?.fetchAll(); // start-up fails when published rules cannot be fetched
    this.rules.load('start'); // throws RulesLoadError: start-up fails with the diagnostics
    this.rules.watch();
    this.fetcher?.poll();
    this.health = new HealthServer(this.config.metrics.listen, this.metrics, { ready: () => this.readiness() });
    await this.health.start();
    const eventTypes = [...new Set(this.rules.engine.active.flatMap((r) => (r.types.neg ? [] : [...r.types.set])))];
    this.sources = this.config.sources.map((s) => {
      const { type, ...options } = s as { type: string } & Record<string, unknown>;
      return sourcePlugin(type)!.create(options, { table: this.table, logger: this.log, eventTypes });
    });
    this.pipeline = new EventPipeline(this.sources, () => this.rules.engine, this.sinks, this.metrics, this.log);
    this.pipeline.start();
    for (const s of this.sources) await s.start();
    this.statsTimer = setInterval(() => this.exportSourceStats(), 1_000);
    this.statsTimer.unref();
    this.log.info({ sources: this.sources.map((s) => s.name), metrics: this.metricsAddress }, 'agent started');
  }

  /** Reloads the rules (SIGHUP, file change); the previous rules keep running on failure. */
  reload(reason: string): boolean {
    return this.rules.load(reason);
  }

  /** Re-opens the sinks' output files (SIGHUP, after logrotate moved them). */
  reopenOutputs(): void {
    for (const s of this.sinks) s.reopen();
  }

  /** Resolves when every source has ended (replay at end of input). */
  get finished(): Promise<void> {
    return this.pipeline?.done ?? Promise.resolve();
  }

  private readiness(): { ok: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.rules.loaded) reasons.push('rules not loaded');
    for (const s of this.sources) if (!s.stats.connected) reasons.push(`source ${s.name} not connected`);
    return { ok: reasons.length === 0, reasons };
  }

  private exportSourceStats(): void {
    for (const s of this.sources) {
      const prev = this.lastStats.get(s.name) ?? {};
      this.metrics.queueDepth.set({ source: s.name }, s.queued);
      const r = s.stats.received - (prev.received ?? 0);
      if (r > 0) this.metrics.eventsReceived.inc({ source: s.name }, r);
      const now = { dropped: s.stats.dropped, malformed: s.stats.malformed, lost: s.stats.lost, aborted: s.stats.aborted, unknown_kind: s.stats.unknownKinds };
      for (const [reason, v] of Object.entries(now)) {
        const d = v - (prev[reason] ?? 0);
        if (d > 0) this.metrics.eventsDropped.inc({ source: s.name, reason }, d);
      }
      this.lastStats.set(s.name, { ...now, received: s.stats.received });
    }
  }

  private internalAlert(reason: string, diagnostics: string): void {
    const alert: Alert = {
      time: isoNanos(BigInt(Date.now()) * 1_000_000n), rule: 'Peregrine internal: rules reload failed', priority: 'Error', source: 'internal',
      tags: ['peregrine', 'internal'], hostname: nodeName(this.config),
      output: `Rules reload failed (${reason}); the previous rules keep running | ${diagnostics.split('\n')[0]}`,
      output_fields: { 'reload.reason': reason, 'reload.errors': diagnostics },
    };
    this.pipeline?.emit(alert);
  }

  /** Stops sources, drains the pipeline, flushes sinks, within `deadlineMs`. Idempotent. */
  shutdown(deadlineMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.statsTimer);
      this.rules.close();
      this.fetcher?.close();
      const deadlineAt = Date.now() + deadlineMs;
      const deadline = new Promise<void>((r) => setTimeout(r, deadlineMs).unref());
      await Promise.race([Promise.all(this.sources.map((s) => s.shutdown(deadlineMs))), deadline]);
      await Promise.race([this.pipeline?.done ?? Promise.resolve(), deadline]);
      this.pipeline?.stop();
      this.exportSourceStats();
      // sinks spool what they could not deliver; they get until just before the deadline to do so
      const sinksDeadline = Math.max(Date.now() + 500, deadlineAt - 1_000);
      await Promise.race([Promise.all(this.sinks.map((s) => s.close(sinksDeadline))), deadline]);
      await this.health?.close();
      this.log.info({}, 'agent stopped');
    })();
    return this.stopping;
  }
}

/** The node's name: configured, else NODE_NAME (the DaemonSet's downward API), else the hostname. */
function nodeName(config: Config): string {
  return config.node.name ?? process.env.NODE_NAME ?? hostname();
}
