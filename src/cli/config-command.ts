import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, ConfigSchema, loadConfigFile } from '../config/index.js';
import { UsageError, type CommandImpl } from './command.js';

export const configValidateCommand: CommandImpl = {
  async run(args, io) {
    const { positionals } = parseArgs({ args: [...args], allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('give exactly one configuration file');
    try {
      loadConfigFile(positionals[0]);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stdout.write(
        `${err.problems.join('\n')}\n${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}\n`,
      );
      return 1;
    }
    io.stdout.write(`${positionals[0]}: valid\n`);
    return 0;
  },
};

export const configDefaultsCommand: CommandImpl = {
  async run(_args, io) {
    io.stdout.write(stringify(ConfigSchema.parse({})));
    return 0;
  },
};
