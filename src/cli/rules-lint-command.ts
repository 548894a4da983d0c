import { parseArgs } from 'node:util';
import { lintRules, lintText } from '../authoring/index.js';
import { UsageError, type CommandImpl } from './command.js';

export const rulesLintCommand: CommandImpl = {
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' }, 'max-warnings': { type: 'string' } },
      allowPositionals: true,
    });
    if (positionals.length === 0) throw new UsageError('give at least one rules file or directory');
    const max = values['max-warnings'] === undefined ? Infinity : Number(values['max-warnings']);
    if (!Number.isInteger(max) && max !== Infinity)
      throw new UsageError(`--max-warnings takes a whole number, got ${JSON.stringify(values['max-warnings'])}`);
    const result = lintRules(positionals);
    if (values.json) {
      io.stdout.write(
        JSON.stringify({
          files: result.load.files.map((f) => f.name),
          findings: result.findings.map((f) => ({
            file: f.file,
            line: f.line,
            column: f.column,
            severity: f.severity,
            code: f.code,
            message: f.message,
            fix: f.fix,
            itemKind: f.itemKind ?? null,
            itemName: f.itemName ?? null,
          })),
        }) + '\n',
      );
    } else io.stdout.write(lintText(result));
    const errors = result.findings.filter((f) => f.severity === 'error').length;
    const warnings = result.findings.length - errors;
    return errors > 0 || warnings > max ? 1 : 0;
  },
};
