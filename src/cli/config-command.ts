import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, ConfigSchema, loadConfigFile } from '../config/index.js';
import { UsageError, type Command } from './cli-error.js';

export const configValidateCommand: Command = {
  name: 'config validate',
  summary: 'check a daemon configuration file: every problem at once, each with its path',
  usage: 'peregrine config validate FILE   (environment overrides PEREGRINE_A__B=value apply too)',
  async run(args, io) {
    const { positionals } = parseArgs({ args: [...args], allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('give exactly one configuration file');
    try {
      loadConfigFile(positionals[0]);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stdout.write(`${err.problems.join('\n')}\n${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    io.stdout.write(`${positionals[0]}: valid\n`);
    return 0;
  },
};

export const configDefaultsCommand: Command = {
  name: 'config defaults',
  summary: 'print the embedded default configuration (YAML)',
  usage: 'peregrine config defaults',
  async run(_args, io) {
    io.stdout.write(stringify(ConfigSchema.parse({})));
    return 0;
  },
};
