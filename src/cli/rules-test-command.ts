import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ruleTestJunit, ruleTestText, runRuleTests } from '../authoring/index.js';
import { BUNDLED_RULES } from '../project-paths.js';
import { UsageError, type Command } from './cli-error.js';

export const rulesTestCommand: Command = {
  name: 'rules test',
  summary: 'run rule unit tests (*.test.yaml): events in, expected alerts out, through the real engine',
  usage: 'peregrine rules test [--junit FILE] [--rules FILE...] PATH...   (PATH: test files or directories searched for *.test.yaml)',
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
        io.stderr.write(`peregrine rules test: cannot write ${values.junit}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
        return 1;
      }
    }
    return run.failed === 0 ? 0 : 1;
  },
};
