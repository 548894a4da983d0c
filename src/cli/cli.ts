import { COMMANDS } from './commands.js';
import { UsageError, type CommandIO } from './cli-error.js';

/** The top-level help: every command with its one-line summary. */
export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'peregrine — runtime security agent for Kubernetes (Falco-compatible rules)',
    '',
    'usage: peregrine COMMAND [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `peregrine COMMAND --help` for a command\'s options.',
  ].join('\n') + '\n';
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CommandIO): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(helpText());
    return argv.length === 0 ? 2 : 0;
  }
  const cmd = COMMANDS.find((c) => {
    const words = c.name.split(' ');
    return words.every((w, i) => argv[i] === w);
  });
  if (!cmd) {
    io.stderr.write(`peregrine: unknown command '${argv.slice(0, 2).join(' ')}'\n\n${helpText()}`);
    return 2;
  }
  const rest = argv.slice(cmd.name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${cmd.summary}\n\nusage: ${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`peregrine ${cmd.name}: ${(err as Error).message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    io.stderr.write(`peregrine ${cmd.name}: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 70;
  }
}
