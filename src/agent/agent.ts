import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import {
  CONTAINER_FIELD_NAMES,
  errorMessage,
  FieldKeyTable,
  isoNanos,
  parsePriority,
  type Alert,
} from '../event/index.js';
import { EventPipeline } from '../pipeline/index.js';
import { BUNDLED_RULES, DEFAULT_RUNTIME_SOCKETS } from '../defaults.js';
import type { AlertSink, SinkObserver } from '../sinks/index.js';
import { buildSinks } from './build-sinks.js';
import { sourcePluginFor, type EventSource } from '../sources/index.js';
import { unixSocketPath } from '../transport/index.js';
import { AgentMetrics, HealthServer, silentLogger, type Logger } from '../telemetry/index.js';
import { RulesFetcher } from './rules-fetcher.js';
import { RulesManager } from './rules-manager.js';
import { deadlineIn, msLeft, settleBy, type Deadline } from '../lifecycle.js';
import type { Clock } from '../clock.js';
import { existsSync } from 'node:fs';
import { CriClient, EventEnricher, RuntimeMetadata } from '../enrich/index.js';
import { findKubeConfig, KubeMetadata, KubePods } from '../k8s/index.js';
import { PodIsolations, ReleaseServer, Responder } from '../respond/index.js';
import { join } from 'node:path';
import { ownProcesses, ResponsesManager, sensorPid } from './responses-manager.js';

export interface AgentOptions {
  readonly stdout?: NodeJS.WritableStream;
  readonly logger?: Logger;
  /** Replaces the configured rules (peregrine run --rules). */
  readonly rules?: readonly string[];
  /** Time for the sinks' folding windows, quiet periods and retries (tests move their own). */
  readonly clock?: Clock;
  /** Replaces the configured response policy paths (peregrine run --responses). */
  readonly responses?: readonly string[];
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
  private runtime: RuntimeMetadata | undefined;
  private kube: KubeMetadata | undefined;
  private kubePods: KubePods | undefined;
  /** Automated responses, when policies are configured. */
  responder: Responder | undefined;
  private responses: ResponsesManager | undefined;
  private isolations: PodIsolations | undefined;
  private releaseServer: ReleaseServer | undefined;
  private cri: CriClient | undefined;
  private enricher: EventEnricher | undefined;
  private lastEnriched: Record<string, number> = {};
  private health: HealthServer | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly lastStats = new Map<string, Record<string, number>>();
  /** Last health each source's producer reported (transitions raise internal alerts). */
  private readonly upstreamHealthy = new Map<string, boolean>();
  /** Per source: events lost since the last drop alert, and when it was sent. */
  private readonly drops = new Map<string, { pending: number; alertedAt: number }>();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly opts: AgentOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    // container and pod fields first, next to evt.type: the enrich stage writes them into every
    // event in a container, and slots in the event's first cache lines cost least to fill
    if (config.runtime.enabled || config.kubernetes.enabled)
      for (const f of CONTAINER_FIELD_NAMES) this.table.intern(f);
    const urls = opts.rules ? [] : config.rules.urls;
    this.fetcher = urls.length
      ? new RulesFetcher(
          urls,
          config.rules.cacheDir,
          this.log,
          () => this.rules.load('rules URL changed'),
          (url, why) => {
            this.metrics.reloads.inc({ outcome: 'fetch_failure' });
            this.log.error({ url, why }, 'rules URL fetch failed; the last good copy keeps running');
          },
        )
      : undefined;
    const paths = [
      ...(opts.rules ?? config.rules.paths).map((p) => (p === 'bundled' ? BUNDLED_RULES : p)),
      ...(this.fetcher?.paths ?? []),
    ];
    const minPriority = config.rules.minPriority ? parsePriority(config.rules.minPriority) : undefined;
    this.rules = new RulesManager(
      paths,
      this.table,
      {
        ruleMatching: config.rules.ruleMatching,
        selection: { minPriority },
        hostname: nodeName(config),
        contextFields: CONTEXT_FIELDS,
      },
      this.metrics,
      this.log,
      (reason, diag) =>
        this.internalAlert(
          'Peregrine internal: rules reload failed',
          'Error',
          `Rules reload failed (${reason}); the previous rules keep running | ${diag.split('\n')[0]}`,
          { 'reload.reason': reason, 'reload.errors': diag },
        ),
      // the sensor captures (in the kernel) only what the loaded rules can match
      (engine) => {
        const types = engine.eventTypes();
        for (const s of this.sources) s.setEventTypes?.(types);
      },
    );
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
    this.sinks = buildSinks(this.config, {
      stdout: this.opts.stdout,
      logger: this.log,
      observer,
      clock: this.opts.clock,
    }); // throws SpoolError: start-up fails saying which directory
    this.metrics.watchSinks(() => this.sinks);
    // health first: /healthz answers (and /readyz says why not ready) while rules are fetched
    this.health = new HealthServer(this.config.metrics.listen, this.metrics, { ready: () => this.readiness() });
    await this.health.start();
    await this.fetcher?.start(); // start-up fails when published rules cannot be fetched
    await this.rules.start(); // throws RulesLoadError: start-up fails with the diagnostics
    const eventTypes = this.rules.engine.eventTypes();
    this.sources = this.config.sources.map((s) => {
      const { type, ...options } = s as { type: string } & Record<string, unknown>;
      return sourcePluginFor(type)!.build(options, { table: this.table, logger: this.log, eventTypes });
    });
    [this.runtime, this.kube] = await Promise.all([this.startRuntime(), this.startKube()]);
    const enricher = (this.enricher =
      this.runtime || this.kube ? new EventEnricher(this.table, this.runtime, this.kube) : undefined);
    this.pipeline = new EventPipeline(
      this.sources,
      () => this.rules.engine,
      this.sinks,
      this.metrics,
      this.log,
      enricher,
    );
    await this.startResponses(this.pipeline);
    await Promise.all(this.sinks.map((s) => s.start()));
    await this.pipeline.start();
    for (const s of this.sources) await s.start();
    this.statsTimer = setInterval(() => this.exportSourceStats(), 1_000);
    this.statsTimer.unref();
    this.log.info({ sources: this.sources.map((s) => s.name), metrics: this.metricsAddress }, 'agent started');
  }

  /** Reloads the rules and response policies (SIGHUP, file change); the previous ones keep running on failure. */
  reload(reason: string): boolean {
    const rules = this.rules.load(reason);
    const responses = this.responses?.load(reason) ?? true;
    return rules && responses;
  }

  /**
   * Responses, when policy files are configured: the policies load (start-up fails with their
   * diagnostics when they do not), and every alert is offered to the responder.
   */
  private async startResponses(pipeline: EventPipeline): Promise<void> {
    const paths = this.opts.responses ?? this.config.responses.paths;
    if (!paths.length) return;
    const rc = this.config.responses;
    const cri = this.cri;
    const isolations = (this.isolations = new PodIsolations({
      stateFile: join(rc.stateDir, 'isolations.json'),
      pods: this.kubePods,
      netnsPid: async (ns, pod) => cri?.podSandboxPid(ns, pod),
      log: this.log,
      clock: this.opts.clock,
    }));
    await isolations.start();
    this.releaseServer = new ReleaseServer(rc.socket, isolations, this.log);
    await this.releaseServer.start();
    const responder = (this.responder = new Responder({
      ...rc,
      table: this.table,
      services: {
        pods: this.kubePods,
        // the agent, its embedded sensor and helpers, and a sensor serving a configured unix socket
        protectedPids: () =>
          ownProcesses([
            process.pid,
            ...this.config.sources.flatMap((src) => {
              const address = (src as { address?: unknown }).address;
              const path = typeof address === 'string' && address.trim() ? unixSocketPath(address) : undefined;
              const pid = path ? sensorPid(path) : undefined;
              return pid ? [pid] : [];
            }),
          ]),
        procRoot: '/proc',
        evidenceDir: rc.evidenceDir,
        nodeName: nodeName(this.config),
        allowNodeCordon: rc.allowNodeCordon,
        isolations,
        stopPodSandbox: cri
          ? async (ns, pod) => {
              const id = await cri.readyPodSandbox(ns, pod);
              if (id) await cri.stopPodSandbox(id);
              return id !== undefined;
            }
          : undefined,
      },
      log: this.log,
      metrics: {
        outcome: (action, outcome) => this.metrics.responses.inc({ action, outcome }),
        latency: (action, seconds) => this.metrics.responseLatency.observe({ action }, seconds),
      },
      audit: (alert) => pipeline.emit(alert),
      hostname: nodeName(this.config),
      dryRun: rc.dryRun,
      clock: this.opts.clock,
    }));
    this.responses = new ResponsesManager(
      paths,
      this.table,
      responder,
      () => new Set(this.rules.engine.load.rules.map((r) => r.name)),
      this.log,
      (reason, diag) =>
        this.internalAlert(
          'Peregrine internal: response policies reload failed',
          'Error',
          `Response policies reload failed (${reason}); the previous policies keep running | ${diag.split('\n')[0]}`,
          { 'reload.reason': reason, 'reload.errors': diag },
        ),
    );
    await this.responses.start(); // throws ResponsesLoadError: start-up fails with the diagnostics
    pipeline.observe((alert, event) => responder.onAlert(alert, event));
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
    for (const s of this.sources) {
      if (!s.stats.connected) reasons.push(`source ${s.name} not connected`);
      else if (s.upstream && !s.upstream.healthy)
        reasons.push(`source ${s.name}: ${s.upstream.reason || 'its producer reports unhealthy'}`);
    }
    return { ok: reasons.length === 0, reasons };
  }

  /**
   * The container runtime's metadata, when there is a runtime: the configured socket, else the
   * first default socket that exists. None, or one that does not answer: enrichment is off (or
   * waits for the runtime), said once in the log; never a reason not to start.
   */
  private async startRuntime(): Promise<RuntimeMetadata | undefined> {
    const cfg = this.config.runtime;
    if (!cfg.enabled) return undefined;
    const socket = cfg.socket ?? DEFAULT_RUNTIME_SOCKETS.find((s) => existsSync(s));
    if (!socket) {
      this.log.info(
        { tried: DEFAULT_RUNTIME_SOCKETS },
        'no container runtime socket found: container and pod metadata from the runtime is off',
      );
      return undefined;
    }
    this.cri = new CriClient(socket);
    const runtime = new RuntimeMetadata(this.cri, { logger: this.log });
    try {
      await runtime.start();
    } catch (err) {
      this.log.warn(
        { socket, err: errorMessage(err) },
        'container runtime does not answer: events lack container metadata until it does (retried when containers are seen)',
      );
    }
    return runtime;
  }

  /**
   * The Kubernetes API's pod metadata, when there is an API to ask (see findKubeConfig); none is
   * said once in the log. A named kubeconfig that cannot be read fails start-up.
   */
  private async startKube(): Promise<KubeMetadata | undefined> {
    const cfg = this.config.kubernetes;
    if (!cfg.enabled) return undefined;
    const found = findKubeConfig(cfg.kubeconfig);
    if (!found) {
      this.log.info(
        'no Kubernetes API configuration (kubernetes.kubeconfig, $KUBECONFIG, in-cluster service account): pod metadata from the API is off',
      );
      return undefined;
    }
    this.kubePods = new KubePods(found);
    const kube = new KubeMetadata(found, {
      nodeName: nodeName(this.config),
      namespaceLabels: cfg.namespaceLabels,
      nodeLabels: cfg.nodeLabels,
      logger: this.log,
    });
    await kube.start();
    return kube;
  }

  private exportSourceStats(): void {
    if (this.enricher) {
      const p = this.pipeline?.pending?.stats;
      const now: Record<string, number> = {
        enriched: this.enricher.stats.enriched,
        resolved_after_wait: p?.resolved ?? 0,
        unknown_after_wait: p?.timedOut ?? 0,
        unknown_not_held: p?.overflow ?? 0,
      };
      for (const [outcome, v] of Object.entries(now)) {
        const d = v - (this.lastEnriched[outcome] ?? 0);
        if (d > 0) this.metrics.eventsEnriched.inc({ outcome }, d);
      }
      this.lastEnriched = now;
    }
    for (const s of this.sources) {
      const up = s.upstream;
      if (up) {
        this.metrics.upstreamHealthy.set({ source: s.name }, up.healthy ? 1 : 0);
        const was = this.upstreamHealthy.get(s.name) ?? true;
        if (was && !up.healthy) {
          this.log.error({ source: s.name, reason: up.reason }, 'sensor not capturing: events are not being watched');
          this.internalAlert(
            'Peregrine internal: sensor not capturing',
            'Critical',
            `Sensor of source ${s.name} is not capturing; nothing is being watched until it recovers | ${up.reason}`,
            { 'source.name': s.name, 'sensor.reason': up.reason },
          );
        } else if (!was && up.healthy) this.log.info({ source: s.name }, 'sensor capturing again');
        this.upstreamHealthy.set(s.name, up.healthy);
      }
      const prev = this.lastStats.get(s.name) ?? {};
      this.metrics.queueDepth.set({ source: s.name }, s.queued);
      const r = s.stats.received - (prev.received ?? 0);
      if (r > 0) this.metrics.eventsReceived.inc({ source: s.name }, r);
      const now = {
        dropped: s.stats.dropped,
        malformed: s.stats.malformed,
        lost: s.stats.lost,
        aborted: s.stats.aborted,
        rate_limited: s.stats.rateLimited,
        unknown_kind: s.stats.unknownKinds,
      };
      for (const [reason, v] of Object.entries(now)) {
        const d = v - (prev[reason] ?? 0);
        if (d > 0) this.metrics.eventsDropped.inc({ source: s.name, reason }, d);
      }
      this.dropAlert(s.name, now.lost - (prev.lost ?? 0));
      const tr = s.stats.truncated - (prev.truncated ?? 0);
      if (tr > 0) this.metrics.alertsTruncated.inc({ source: s.name }, tr);
      this.lastStats.set(s.name, { ...now, received: s.stats.received, truncated: s.stats.truncated });
    }
  }

  /**
   * Events the producer lost (a full kernel ring, say: a flood can be an attack's cover) raise an
   * internal alert, at most one per source per minute, carrying how many were lost since the last.
   */
  private dropAlert(source: string, lost: number): void {
    const d = this.drops.get(source) ?? { pending: 0, alertedAt: 0 };
    d.pending += Math.max(0, lost);
    this.drops.set(source, d);
    const now = Date.now();
    if (d.pending === 0 || now - d.alertedAt < 60_000) return;
    this.internalAlert(
      'Peregrine internal: syscall event drop',
      'Critical',
      `${d.pending} events from source ${source} were lost before evaluation (the producer could not keep up, or a flood); what happened meanwhile was not watched`,
      { 'source.name': source, 'events.lost': String(d.pending) },
    );
    this.log.error({ source, lost: d.pending }, 'events lost before evaluation');
    d.pending = 0;
    d.alertedAt = now;
  }

  /** An alert about Peregrine itself, through the same sinks as every alert. */
  private internalAlert(
    rule: string,
    priority: Alert['priority'],
    output: string,
    fields: Record<string, string>,
  ): void {
    const alert: Alert = {
      time: isoNanos(BigInt(Date.now()) * 1_000_000n),
      rule,
      priority,
      source: 'internal',
      tags: ['peregrine', 'internal'],
      hostname: nodeName(this.config),
      output,
      output_fields: fields,
    };
    this.pipeline?.emit(alert);
  }

  /**
   * Stops sources, drains the pipeline, flushes sinks and closes the servers, all within
   * `deadlineMs` (default: the configured `shutdown.deadlineSeconds`), whatever peers do: slow
   * or stuck clients are disconnected, what sinks cannot deliver is spooled. Idempotent.
   */
  shutdown(deadline: Deadline = deadlineIn(this.config.shutdown.deadlineSeconds * 1_000)): Promise<void> {
    this.stopping ??= (async () => {
      const t0 = Date.now();
      const total = msLeft(deadline);
      clearInterval(this.statsTimer);
      await this.rules.shutdown();
      await this.fetcher?.shutdown();
      // sources get a third of the time to finish what they are reading, the pipeline until the
      // sinks' share begins, the sinks until just before the deadline
      const sources = deadlineIn(Math.floor(total / 3));
      await settleBy(Promise.all(this.sources.map((s) => s.shutdown(sources))), deadlineIn(msLeft(sources) + 100));
      await this.pipeline?.shutdown(deadlineIn(Math.max(0, msLeft(deadline) - Math.min(total / 2, 5_000))));
      await this.responses?.shutdown();
      this.isolations?.shutdown();
      await this.releaseServer?.shutdown();
      if (this.responder) await settleBy(this.responder.settled(), deadlineIn(Math.max(0, msLeft(deadline) - 1_000)));
      this.exportSourceStats();
      const sinks = deadlineIn(Math.max(100, msLeft(deadline) - 300));
      await settleBy(
        Promise.all(this.sinks.map((s) => s.shutdown(sinks))),
        deadlineIn(Math.max(100, msLeft(deadline) - 200)),
      );
      await this.runtime?.shutdown();
      await this.kube?.shutdown();
      await this.health?.shutdown(deadline);
      this.log.info({ tookMs: Date.now() - t0 }, 'agent stopped');
    })();
    return this.stopping;
  }
}

/** Where an alert happened, added to its `output_fields` whenever the event knows it (sinks label and route by them). */
const CONTEXT_FIELDS: readonly string[] = [
  'k8s.ns.name',
  'k8s.pod.name',
  'k8s.workload.kind',
  'k8s.workload.name',
  'k8s.node.name',
  'container.name',
  'container.image.repository',
];

/** The node's name: configured, else NODE_NAME (the DaemonSet's downward API), else the hostname. */
function nodeName(config: Config): string {
  return config.node.name ?? process.env.NODE_NAME ?? hostname();
}
