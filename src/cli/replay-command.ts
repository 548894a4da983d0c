import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { errorMessage, ioErrorText, alertToJson, atLeast, parsePriority, PRIORITIES, type Alert, type Priority } from '../event/index.js';
import { Engine, loadRules, type RuleMatching } from '../engine/index.js';
import { ReplaySource, parseSourceSpec, sourcePluginFor, type EventSource } from '../sources/index.js';
import { UsageError, type CommandImpl } from './command.js';
import { diagnosticsText } from './diagnostics-output.js';

const OUT_CHUNK = 64 * 1024;

export const replayCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        rules: { type: 'string', multiple: true }, events: { type: 'string' }, source: { type: 'string', multiple: true },
        'rule-matching': { type: 'string' }, 'min-priority': { type: 'string' }, 'append-field': { type: 'string', multiple: true },
        'disable-rule': { type: 'string', multiple: true }, tag: { type: 'string', multiple: true }, 'disable-tag': { type: 'string', multiple: true },
        hostname: { type: 'string' }, strict: { type: 'boolean' }, 'max-events': { type: 'string' }, duration: { type: 'string' },
      },
    });
    if (!values.rules?.length) throw new UsageError('--rules FILE is required (repeat it for several files)');
    if (!values.events && !values.source?.length) throw new UsageError('--events FILE (or - for standard input) or --source TYPE:ADDRESS is required');
    const matching = values['rule-matching'] ?? 'first';
    if (matching !== 'first' && matching !== 'all') throw new UsageError(`--rule-matching must be first or all, got ${JSON.stringify(matching)}`);
    let minPriority: Priority | undefined;
    if (values['min-priority'] !== undefined) {
      minPriority = parsePriority(values['min-priority']);
      if (!minPriority) throw new UsageError(`--min-priority must be one of ${PRIORITIES.join(', ')}, got ${JSON.stringify(values['min-priority'])}`);
    }
    const maxEvents = values['max-events'] === undefined ? Infinity : Number(values['max-events']);
    const duration = values.duration === undefined ? Infinity : Number(values.duration);
    if (!(maxEvents > 0) || !(duration > 0)) throw new UsageError('--max-events and --duration take positive numbers');
    const specs = (values.source ?? []).map((s) => {
      try {
        return parseSourceSpec(s);
      } catch (err) {
        throw new UsageError(`--source ${s}: ${errorMessage(err)}`);
      }
    });
    const load = loadRules(values.rules);
    if (!load.ok) {
      io.stderr.write(diagnosticsText(load));
      return 1;
    }
    let engine: Engine;
    try {
      engine = new Engine(load, {
        ruleMatching: matching as RuleMatching,
        selection: { minPriority, disabledRules: values['disable-rule'], runTags: values.tag, disableTags: values['disable-tag'] },
        hostname: values.hostname,
        appendFields: values['append-field'],
      });
    } catch (err) {
      throw new UsageError(`--append-field: ${errorMessage(err)}`);
    }
    const eventTypes = [...new Set(engine.active.flatMap((r) => (r.types.neg ? [] : [...r.types.set])))];
    const sources: EventSource[] = [];
    let replay: ReplaySource | undefined;
    if (values.events) {
      if (values.events !== '-') {
        try {
          await access(values.events, constants.R_OK);
        } catch (err) {
          io.stderr.write(`peregrine replay: cannot read events file ${values.events}: ${ioErrorText(err)}\n`);
          return 1;
        }
      }
      let reported = 0;
      replay = new ReplaySource({
        path: values.events, strict: values.strict, stdin: io.stdin,
        onBadLine: (err) => {
          reported++;
          if (values.strict) return;
          if (reported <= 20) io.stderr.write(`peregrine replay: skipping bad event at ${values.events}:${err.message}\n`);
          else if (reported === 21) io.stderr.write('peregrine replay: more bad lines; counting them silently (see the summary)\n');
        },
      }, load.table);
      sources.push(replay);
    }
    for (const spec of specs) {
      try {
        sources.push(sourcePluginFor(spec.type)!.build(spec.options, { table: load.table, eventTypes }));
      } catch (err) {
        throw new UsageError(`--source ${spec.type}: ${errorMessage(err)}`);
      }
    }

    const perRule = new Map<string, number>();
    let events = 0;
    let alerts = 0;
    let buf = '';
    const emit = (a: Alert): void => {
      alerts++;
      perRule.set(a.rule, (perRule.get(a.rule) ?? 0) + 1);
      buf += alertToJson(a) + '\n';
    };
    const flush = async (): Promise<void> => {
      if (!buf) return;
      const chunk = buf;
      buf = '';
      if (!io.stdout.write(chunk)) await new Promise<void>((r) => io.stdout.once('drain', () => r()));
    };
    let stopping: Promise<unknown> | undefined;
    const stopAll = (): Promise<unknown> => (stopping ??= Promise.all(sources.map((s) => s.shutdown())));
    const timer = Number.isFinite(duration) ? setTimeout(() => void stopAll(), duration * 1000) : undefined;
    const onSignal = (): void => void stopAll();
    process.once('SIGINT', onSignal);
    try {
      for (const s of sources) await s.start();
      await Promise.all(sources.map(async (s) => {
        for await (const b of s.batches()) {
          if (b.kind === 'alerts') {
            for (const a of b.alerts) if (!minPriority || atLeast(a.priority, minPriority)) emit(a);
          } else {
            for (const ev of b.events) {
              events++;
              engine.evaluate(ev, (rule) => emit(engine.alert(rule, ev)));
            }
          }
          if (buf.length > OUT_CHUNK) await flush();
          if (events >= maxEvents) void stopAll();
        }
      }));
    } finally {
      clearTimeout(timer);
      process.removeListener('SIGINT', onSignal);
      await stopAll();
    }
    await flush();
    if (replay?.failure) {
      io.stderr.write(`peregrine replay: ${values.events}:${replay.failure.message}\n`);
      if (values.strict || !(replay.failure.name === 'EventDecodeError')) return 1;
    }
    const bySource = Object.fromEntries(sources.map((s) => [s.name, s.stats]));
    const summary = { events, badLines: replay?.stats.malformed ?? 0, alerts, alertsByRule: Object.fromEntries([...perRule].sort((a, b) => b[1] - a[1])), ...(specs.length ? { sources: bySource } : {}) };
    io.stderr.write(`peregrine replay: ${JSON.stringify(summary)}\n`);
    return 0;
  },
};
