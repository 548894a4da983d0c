import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the metrics read of a sink at each scrape. */
export interface SinkGauges {
  readonly name: string;
  readonly stats: {
    readonly queued: number;
    readonly spooled: number;
    readonly spoolBytes: number;
    readonly up: boolean;
  };
}

/**
 * The agent's Prometheus metrics, on a registry of its own (no process-global state).
 * Names follow Prometheus conventions; every drop has a counter.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly eventsReceived = new Counter({
    name: 'peregrine_messages_received_total',
    help: 'Messages (batches, requests, lines) received by each source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'peregrine_queue_depth',
    help: 'Events or alerts waiting in each source buffer',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly eventsDecoded = new Counter({
    name: 'peregrine_events_decoded_total',
    help: 'Events (or alerts) decoded by each source and handed to the pipeline',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'peregrine_events_dropped_total',
    help: 'Events dropped per source and reason (buffer overflow, malformed, lost upstream)',
    labelNames: ['source', 'reason'],
    registers: [this.registry],
  });
  readonly upstreamHealthy = new Gauge({
    name: 'peregrine_source_upstream_healthy',
    help: 'Whether the producer behind a source says it is healthy (the sensor: capturing), 1 or 0',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly alertsTruncated = new Counter({
    name: 'peregrine_source_alerts_truncated_total',
    help: 'Alerts from peers kept but cut down to the size limits (marked peregrine.truncated)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly eventsEnriched = new Counter({
    name: 'peregrine_events_enriched_total',
    help: 'Events in containers by enrichment outcome: enriched (container and pod fields added; resolved_after_wait of them waited for the runtime), unknown_after_wait (the runtime did not know the container within the wait), unknown_not_held (the pending cache was full)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly eventsEvaluated = new Counter({
    name: 'peregrine_events_evaluated_total',
    help: 'Events evaluated against the rules',
    registers: [this.registry],
  });
  readonly ruleMatches = new Counter({
    name: 'peregrine_rule_matches_total',
    help: 'Rule matches',
    labelNames: ['rule', 'priority', 'namespace'],
    registers: [this.registry],
  });
  readonly alerts = new Counter({
    name: 'peregrine_alerts_total',
    help: 'Alerts per sink and outcome (sent, failed, retried, dropped, spooled, filtered, folded); reason for failed and dropped',
    labelNames: ['sink', 'outcome', 'reason'],
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'peregrine_sink_delivery_seconds',
    help: 'Time from an alert reaching a sink to the receiver acknowledging it (retries and spooling included)',
    labelNames: ['sink'],
    registers: [this.registry],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
  });
  private sinks: () => ReadonlyArray<SinkGauges> = () => [];
  readonly sinkQueueDepth = this.sinkGauge(
    'peregrine_sink_queue_depth',
    'Alerts in memory per sink: waiting, held while the receiver is down, or in flight',
    (s) => s.queued,
  );
  readonly sinkSpooled = this.sinkGauge(
    'peregrine_sink_spooled',
    'Alerts in the on-disk spool per sink',
    (s) => s.spooled,
  );
  readonly sinkSpoolBytes = this.sinkGauge(
    'peregrine_sink_spool_bytes',
    'Bytes of the on-disk spool per sink',
    (s) => s.spoolBytes,
  );
  readonly sinkUp = this.sinkGauge(
    'peregrine_sink_up',
    '1 while the sink delivers, 0 while its receiver is considered down (alerts are spooled)',
    (s) => (s.up ? 1 : 0),
  );
  readonly reloads = new Counter({
    name: 'peregrine_rules_reloads_total',
    help: 'Rules (re)loads by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly rulesInfo = new Gauge({
    name: 'peregrine_rules_info',
    help: 'The loaded rules (value 1): sha256 of the files and counts',
    labelNames: ['sha256', 'rules'],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'peregrine_pipeline_latency_seconds',
    help: 'Event time to alert',
    registers: [this.registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });

  readonly responses = new Counter({
    name: 'peregrine_responses_total',
    help: 'Response actions by outcome: applied, skipped (a guard said no), dry_run, failed',
    labelNames: ['action', 'outcome'],
    registers: [this.registry],
  });
  readonly responseLatency = new Histogram({
    name: 'peregrine_response_latency_seconds',
    help: 'Event time to response action done (applied)',
    labelNames: ['action'],
    registers: [this.registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
  });

  /** Reports the gauges of these sinks at each scrape. */
  watchSinks(sinks: () => ReadonlyArray<SinkGauges>): void {
    this.sinks = sinks;
  }

  private sinkGauge(name: string, help: string, value: (s: SinkGauges['stats']) => number): Gauge {
    const gauge: Gauge = new Gauge({
      name,
      help,
      labelNames: ['sink'],
      registers: [this.registry],
      collect: () => {
        for (const s of this.sinks()) gauge.set({ sink: s.name }, value(s.stats));
      },
    });
    return gauge;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'peregrine_' });
    // prom-client names these gauges *_total, which Prometheus' conventions (promtool) reject.
    for (const m of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`peregrine_${m}`);
    }
  }
}
