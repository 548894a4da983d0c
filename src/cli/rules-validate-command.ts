import { parseArgs } from 'node:util';
import { loadRules } from '../engine/index.js';
import { UsageError, type CommandImpl } from './command.js';
import { diagnosticJson, diagnosticsText } from './diagnostics-output.js';

export const rulesValidateCommand: CommandImpl = {
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (positionals.length === 0) throw new UsageError('give at least one rules file or directory');
    const load = loadRules(positionals);
    if (values.json) {
      io.stdout.write(
        JSON.stringify({
          files: load.files.map((f) => f.name),
          rules: load.counts.rules,
          macros: load.counts.macros,
          lists: load.counts.lists,
          errors: load.diagnostics.errors.map(diagnosticJson),
          warnings: load.diagnostics.warnings.map(diagnosticJson),
        }) + '\n',
      );
    } else {
      io.stdout.write(diagnosticsText(load));
    }
    return load.ok ? 0 : 1;
  },
};
