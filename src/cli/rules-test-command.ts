import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ruleTestJunit, ruleTestText, runRuleTests } from '../authoring/index.js';
import { BUNDLED_RULES } from '../defaults.js';
import { UsageError, type CommandImpl } from './command.js';
import { ioErrorText } from '../event/index.js';

export const rulesTestCommand: CommandImpl = {
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { junit: { type: 'string' }, rules: { type: 'string', multiple: true } },
      allowPositionals: true,
    });
    if (positionals.length === 0) throw new UsageError('give at least one test file or directory');
    const run = runRuleTests(positionals, values.rules ?? [BUNDLED_RULES]);
    io.stdout.write(ruleTestText(run));
    if (values.junit) {
      try {
        writeFileSync(values.junit, ruleTestJunit(run));
      } catch (err) {
        io.stderr.write(`peregrine rules test: cannot write ${values.junit}: ${ioErrorText(err)}\n`);
        return 1;
      }
    }
    return run.failed === 0 ? 0 : 1;
  },
};
