import { parseArgs } from 'node:util';
import { loadRules } from '../engine/index.js';
import { UsageError, type CommandImpl } from './command.js';
import { diagnosticsText } from './diagnostics-output.js';

export const rulesListCommand: CommandImpl = {
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (positionals.length === 0) throw new UsageError('give at least one rules file or directory');
    const load = loadRules(positionals);
    if (!load.ok) {
      io.stderr.write(diagnosticsText(load));
      return 1;
    }
    const rows = load.rules.map((r) => ({
      rule: r.name,
      priority: r.priority,
      enabled: r.enabled,
      tags: r.tags,
      source: r.source,
      eventTypes: r.types.neg
        ? r.types.set.size
          ? { allExcept: [...r.types.set].sort() }
          : 'all'
        : [...r.types.set].sort(),
      file: r.pos.file,
      line: r.pos.line,
    }));
    if (values.json) io.stdout.write(JSON.stringify(rows) + '\n');
    else {
      for (const r of rows) {
        const t = r.eventTypes;
        const types = Array.isArray(t)
          ? t.join(',')
          : typeof t === 'string'
            ? '(all)'
            : `(all but ${t.allExcept.join(',')})`;
        io.stdout.write(
          `${r.rule}\t${r.priority}\t${r.enabled ? 'enabled' : 'disabled'}\t[${r.tags.join(',')}]\t${types}\n`,
        );
      }
    }
    return 0;
  },
};
