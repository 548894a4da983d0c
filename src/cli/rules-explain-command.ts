import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { explainRule, explanationText } from '../authoring/index.js';
import { ioErrorText, EventDecodeError, FlatEventDecoder } from '../event/index.js';
import { Engine, loadRules } from '../engine/index.js';
import { UsageError, type CommandImpl } from './command.js';
import { diagnosticsText } from './diagnostics-output.js';

export const rulesExplainCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        rules: { type: 'string', multiple: true },
        event: { type: 'string' },
        rule: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    if (!values.rules?.length) throw new UsageError('--rules FILE is required');
    if (!values.event) throw new UsageError('--event JSON is required');
    let text = values.event;
    if (text.startsWith('@')) {
      try {
        text = readFileSync(text.slice(1), 'utf8').trim().split('\n')[0];
      } catch (err) {
        throw new UsageError(`--event ${values.event}: ${ioErrorText(err)}`);
      }
    }
    const load = loadRules(values.rules);
    if (!load.ok) {
      io.stderr.write(diagnosticsText(load));
      return 1;
    }
    let ev;
    try {
      ev = new FlatEventDecoder(load.table).decodeLine(text, 1);
    } catch (err) {
      if (err instanceof EventDecodeError) throw new UsageError(`--event: ${err.message.replace(/^line 1: /, '')}`);
      throw err;
    }
    const engine = new Engine(load, { ruleMatching: 'all' });
    const matched: string[] = [];
    engine.evaluate(ev, (r) => matched.push(r.name));
    const candidates = engine.rulesFor(ev.type).map((r) => r.name);
    let explanation: ReturnType<typeof explainRule> | undefined;
    if (values.rule !== undefined) {
      const rule = load.rules.find((r) => r.name === values.rule);
      if (!rule) throw new UsageError(`no rule named '${values.rule}' in the loaded rules`);
      explanation = explainRule(load, rule, ev);
    }
    if (values.json) {
      io.stdout.write(
        JSON.stringify(
          { matched, firstMatch: matched[0] ?? null, candidates, explanation: explanation ?? null },
          (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
        ) + '\n',
      );
      return 0;
    }
    io.stdout.write(`event type: ${ev.type || '<NA>'}; ${candidates.length} rule(s) can match this event type\n`);
    io.stdout.write(
      matched.length
        ? `matching rules (in load order; with rule_matching: first only the first alerts):\n${matched.map((m) => `  - ${m}`).join('\n')}\n`
        : 'no rule matches this event\n',
    );
    if (explanation) {
      const rule = load.rules.find((r) => r.name === explanation.rule)!;
      const typeNote = candidates.includes(rule.name)
        ? ''
        : ` (it never sees '${ev.type}' events: its condition restricts evt.type)`;
      io.stdout.write(
        `\nrule '${rule.name}' (${rule.pos.file}:${rule.pos.line}): ${explanation.matched ? 'MATCHES' : 'does not match'}${rule.enabled ? '' : ' [disabled]'}${typeNote}\n`,
      );
      io.stdout.write(explanationText(explanation));
    } else if (!matched.length) {
      io.stdout.write('use --rule NAME to see why a rule does not match\n');
    }
    return 0;
  },
};
