import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Engine, loadRules, type LoadResult, type RuleMatching } from '../engine/index.js';
import { errorMessage, ioErrorText, parsePriority, PRIORITIES, type Priority } from '../event/index.js';
import { EventPipeline } from '../pipeline/index.js';
import { ReplaySource, parseSourceSpec, sourcePluginFor, type EventSource } from '../sources/index.js';
import { AgentMetrics, silentLogger } from '../telemetry/index.js';
import { UsageError, type CommandImpl, type CommandIO } from './command.js';
import { diagnosticsText } from './diagnostics-output.js';
import { ReplayOutput } from './replay-output.js';

/** `peregrine replay`'s options, checked. */
interface ReplayOptions {
  readonly rules: readonly string[];
  readonly events?: string;
  readonly sources: ReadonlyArray<{ type: string; options: Record<string, unknown> }>;
  readonly matching: RuleMatching;
  readonly minPriority?: Priority;
  readonly maxEvents: number;
  readonly durationSeconds: number;
  readonly strict: boolean;
  readonly disabledRules?: string[];
  readonly runTags?: string[];
  readonly disableTags?: string[];
  readonly hostname?: string;
  readonly appendFields?: string[];
}

export const replayCommand: CommandImpl = {
  async run(args, io) {
    const o = parseReplayOptions(args);
    const load = loadRules(o.rules);
    if (!load.ok) {
      io.stderr.write(diagnosticsText(load));
      return 1;
    }
    const engine = buildEngine(load, o);
    if (o.events && o.events !== '-') {
      try {
        await access(o.events, constants.R_OK);
      } catch (err) {
        io.stderr.write(`peregrine replay: cannot read events file ${o.events}: ${ioErrorText(err)}\n`);
        return 1;
      }
    }
    const { sources, replay } = buildSources(o, load, engine, io);
    const output = new ReplayOutput(io.stdout, o.minPriority);
    const pipeline = new EventPipeline(sources, () => engine, [output], new AgentMetrics(), silentLogger());
    await runUntilDone(sources, pipeline, output, o);
    if (replay?.failure) {
      io.stderr.write(`peregrine replay: ${o.events}:${replay.failure.message}\n`);
      if (o.strict || !(replay.failure.name === 'EventDecodeError')) return 1;
    }
    const summary = {
      events: pipeline.stats.events,
      badLines: replay?.stats.malformed ?? 0,
      alerts: output.written,
      alertsByRule: Object.fromEntries([...output.perRule].sort((a, b) => b[1] - a[1])),
      ...(o.sources.length ? { sources: Object.fromEntries(sources.map((s) => [s.name, s.stats])) } : {}),
    };
    io.stderr.write(`peregrine replay: ${JSON.stringify(summary)}\n`);
    return 0;
  },
};

/** Parses and checks the command line; throws {@link UsageError} saying what is wrong. */
function parseReplayOptions(args: readonly string[]): ReplayOptions {
  const { values } = parseArgs({
    args: [...args],
    options: {
      rules: { type: 'string', multiple: true },
      events: { type: 'string' },
      source: { type: 'string', multiple: true },
      'rule-matching': { type: 'string' },
      'min-priority': { type: 'string' },
      'append-field': { type: 'string', multiple: true },
      'disable-rule': { type: 'string', multiple: true },
      tag: { type: 'string', multiple: true },
      'disable-tag': { type: 'string', multiple: true },
      hostname: { type: 'string' },
      strict: { type: 'boolean' },
      'max-events': { type: 'string' },
      duration: { type: 'string' },
    },
  });
  if (!values.rules?.length) throw new UsageError('--rules FILE is required (repeat it for several files)');
  if (!values.events && !values.source?.length)
    throw new UsageError('--events FILE (or - for standard input) or --source TYPE:ADDRESS is required');
  const matching = values['rule-matching'] ?? 'first';
  if (matching !== 'first' && matching !== 'all')
    throw new UsageError(`--rule-matching must be first or all, got ${JSON.stringify(matching)}`);
  let minPriority: Priority | undefined;
  if (values['min-priority'] !== undefined) {
    minPriority = parsePriority(values['min-priority']);
    if (!minPriority)
      throw new UsageError(
        `--min-priority must be one of ${PRIORITIES.join(', ')}, got ${JSON.stringify(values['min-priority'])}`,
      );
  }
  const maxEvents = values['max-events'] === undefined ? Infinity : Number(values['max-events']);
  const durationSeconds = values.duration === undefined ? Infinity : Number(values.duration);
  if (!(maxEvents > 0) || !(durationSeconds > 0))
    throw new UsageError('--max-events and --duration take positive numbers');
  const sources = (values.source ?? []).map((s) => {
    try {
      return parseSourceSpec(s);
    } catch (err) {
      throw new UsageError(`--source ${s}: ${errorMessage(err)}`);
    }
  });
  return {
    rules: values.rules,
    events: values.events,
    sources,
    matching,
    minPriority,
    maxEvents,
    durationSeconds,
    strict: values.strict ?? false,
    disabledRules: values['disable-rule'],
    runTags: values.tag,
    disableTags: values['disable-tag'],
    hostname: values.hostname,
    appendFields: values['append-field'],
  };
}

function buildEngine(load: LoadResult, o: ReplayOptions): Engine {
  try {
    return new Engine(load, {
      ruleMatching: o.matching,
      selection: {
        minPriority: o.minPriority,
        disabledRules: o.disabledRules,
        runTags: o.runTags,
        disableTags: o.disableTags,
      },
      hostname: o.hostname,
      appendFields: o.appendFields,
    });
  } catch (err) {
    throw new UsageError(`--append-field: ${errorMessage(err)}`);
  }
}

/** The events file (or stdin) as a replay source, and every `--source`; bad lines reported (the first 20). */
function buildSources(
  o: ReplayOptions,
  load: LoadResult,
  engine: Engine,
  io: CommandIO,
): { sources: EventSource[]; replay?: ReplaySource } {
  const sources: EventSource[] = [];
  let replay: ReplaySource | undefined;
  if (o.events) {
    let reported = 0;
    replay = new ReplaySource(
      {
        path: o.events,
        strict: o.strict,
        stdin: io.stdin,
        onBadLine: (err) => {
          reported++;
          if (o.strict) return;
          if (reported <= 20) io.stderr.write(`peregrine replay: skipping bad event at ${o.events}:${err.message}\n`);
          else if (reported === 21)
            io.stderr.write('peregrine replay: more bad lines; counting them silently (see the summary)\n');
        },
      },
      load.table,
    );
    sources.push(replay);
  }
  const eventTypes = engine.eventTypes();
  for (const spec of o.sources) {
    try {
      sources.push(sourcePluginFor(spec.type)!.build(spec.options, { table: load.table, eventTypes }));
    } catch (err) {
      throw new UsageError(`--source ${spec.type}: ${errorMessage(err)}`);
    }
  }
  return { sources, replay };
}

/** Starts the sources and drives the pipeline until they end, `--max-events`, `--duration` or SIGINT. */
async function runUntilDone(
  sources: readonly EventSource[],
  pipeline: EventPipeline,
  output: ReplayOutput,
  o: ReplayOptions,
): Promise<void> {
  let stopping: Promise<unknown> | undefined;
  const stopAll = (): Promise<unknown> => (stopping ??= Promise.all(sources.map((s) => s.shutdown())));
  const timer = Number.isFinite(o.durationSeconds)
    ? setTimeout(() => void stopAll(), o.durationSeconds * 1000)
    : undefined;
  const onSignal = (): void => void stopAll();
  process.once('SIGINT', onSignal);
  try {
    for (const s of sources) await s.start();
    // the daemon's pipeline, driven batch by batch: a slow reader of stdout holds the input back
    await pipeline.drain(async () => {
      await output.pressure();
      if (pipeline.stats.events >= o.maxEvents) void stopAll();
    });
  } finally {
    clearTimeout(timer);
    process.removeListener('SIGINT', onSignal);
    await stopAll();
  }
  await output.flush();
}
