import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FieldKeyTable } from '../event/index.js';
import { loadRules } from '../engine/index.js';
import { formatDiagnostic } from '../lang/index.js';
import { loadPolicies } from '../respond/index.js';
import { UsageError, type CommandImpl } from './command.js';
import { diagnosticJson } from './diagnostics-output.js';

/** `peregrine responses validate [--json] [--rules PATH ...] FILE|DIR...`: exit 0 valid, 1 errors, 2 usage. */
export const responsesValidateCommand: CommandImpl = {
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' }, rules: { type: 'string', multiple: true } },
      allowPositionals: true,
    });
    if (positionals.length === 0) throw new UsageError('give at least one response policy file or directory');
    const known = values.rules ? new Set(loadRules(values.rules).rules.map((r) => r.name)) : undefined;
    const load = loadPolicies(positionals, new FieldKeyTable(), known);
    const errors = load.diagnostics.errors;
    const warnings = load.diagnostics.warnings;
    if (values.json) {
      io.stdout.write(
        JSON.stringify({
          files: load.files,
          policies: errors.length ? 0 : load.policies.length,
          errors: errors.map(diagnosticJson),
          warnings: warnings.map(diagnosticJson),
        }) + '\n',
      );
    } else {
      const text = (f: string): string | undefined => {
        try {
          return readFileSync(f, 'utf8');
        } catch {
          return undefined;
        }
      };
      const lines = [...errors, ...warnings].map((d) => formatDiagnostic(d, text(d.file)));
      lines.push(
        `${load.policies.length} response polic${load.policies.length === 1 ? 'y' : 'ies'} in ${load.files.length} file${load.files.length === 1 ? '' : 's'}: ${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`,
      );
      io.stdout.write(lines.join('\n') + '\n');
    }
    return errors.length ? 1 : 0;
  },
};
