import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { alertToJson, FlatEventDecoder, parsePriority, PRIORITIES } from '../event/index.js';
import { Engine, loadRules, type RuleMatching } from '../engine/index.js';
import { readReplay } from '../sources/index.js';
import { UsageError, type Command } from './cli-error.js';
import { diagnosticsText } from './diagnostics-output.js';

const OUT_CHUNK = 64 * 1024;

export const replayCommand: Command = {
  name: 'replay',
  summary: 'evaluate JSON Lines events against rules and print Falco JSON alerts',
  usage: [
    'peregrine replay --rules FILE [--rules FILE ...] --events FILE|- [options]',
    '  --rule-matching first|all   one alert per event (Falco default: first) or every match',
    '  --min-priority P            load only rules at least this severe',
    '  --append-field FIELD        add FIELD to every alert\'s output_fields (repeatable)',
    '  --disable-rule SUBSTRING    disable rules whose name contains SUBSTRING (Falco -D)',
    '  --tag TAG / --disable-tag TAG   run only / disable rules with TAG (Falco -t / -T)',
    '  --hostname NAME             hostname in alerts (default: this machine)',
    '  --strict                    stop at the first bad line (exit 1)',
  ].join('\n'),
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        rules: { type: 'string', multiple: true },
        events: { type: 'string' },
        'rule-matching': { type: 'string' },
        'min-priority': { type: 'string' },
        'append-field': { type: 'string', multiple: true },
        'disable-rule': { type: 'string', multiple: true },
        tag: { type: 'string', multiple: true },
        'disable-tag': { type: 'string', multiple: true },
        hostname: { type: 'string' },
        strict: { type: 'boolean' },
      },
    });
    if (!values.rules?.length) throw new UsageError('--rules FILE is required (repeat it for several files)');
    if (!values.events) throw new UsageError('--events FILE is required (use - for standard input)');
    const matching = values['rule-matching'] ?? 'first';
    if (matching !== 'first' && matching !== 'all') throw new UsageError(`--rule-matching must be first or all, got ${JSON.stringify(matching)}`);
    let minPriority;
    if (values['min-priority'] !== undefined) {
      minPriority = parsePriority(values['min-priority']);
      if (!minPriority) throw new UsageError(`--min-priority must be one of ${PRIORITIES.join(', ')}, got ${JSON.stringify(values['min-priority'])}`);
    }
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
      throw new UsageError(`--append-field: ${(err as Error).message}`);
    }
    if (values.events !== '-') {
      try {
        await access(values.events, constants.R_OK);
      } catch (err) {
        io.stderr.write(`peregrine replay: cannot read events file ${values.events}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
        return 1;
      }
    }
    const input = values.events === '-' ? io.stdin : createReadStream(values.events);
    const decoder = new FlatEventDecoder(load.table);
    const perRule = new Map<string, number>();
    let events = 0;
    let bad = 0;
    let alerts = 0;
    let buf = '';
    const flush = async (): Promise<void> => {
      if (!buf) return;
      const chunk = buf;
      buf = '';
      if (!io.stdout.write(chunk)) await new Promise<void>((r) => io.stdout.once('drain', () => r()));
    };
    for await (const item of readReplay(input, decoder)) {
      if ('error' in item) {
        bad++;
        if (values.strict) {
          await flush();
          io.stderr.write(`peregrine replay: ${values.events}:${item.error.message}\n`);
          return 1;
        }
        if (bad <= 20) io.stderr.write(`peregrine replay: skipping bad event at ${values.events}:${item.error.message}\n`);
        else if (bad === 21) io.stderr.write('peregrine replay: more bad lines; counting them silently (see the summary)\n');
        continue;
      }
      events++;
      const ev = item.event;
      engine.evaluate(ev, (rule) => {
        alerts++;
        perRule.set(rule.name, (perRule.get(rule.name) ?? 0) + 1);
        buf += alertToJson(engine.alert(rule, ev)) + '\n';
      });
      if (buf.length > OUT_CHUNK) await flush();
    }
    await flush();
    const summary = { events, badLines: bad, alerts, alertsByRule: Object.fromEntries([...perRule].sort((a, b) => b[1] - a[1])) };
    io.stderr.write(`peregrine replay: ${JSON.stringify(summary)}\n`);
    return 0;
  },
};
