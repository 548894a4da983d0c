import { buildInfo } from '../version.js';
import { COMMANDS } from './commands.js';
import { UsageError, type Command, type CommandIO } from './command.js';
import { errorMessage } from '../event/index.js';

/** The top-level help (every command), or a group's (`peregrine rules --help`: its commands). */
export function helpText(group?: string): string {
  const cmds = group ? COMMANDS.filter((c) => c.name.startsWith(`${group} `)) : COMMANDS;
  const width = Math.max(...cmds.map((c) => c.name.length));
  return (
    [
      group
        ? `peregrine ${group} — ${GROUPS[group] ?? ''}`
        : 'peregrine — runtime security agent for Kubernetes (Falco-compatible rules)',
      '',
      `usage: peregrine ${group ? `${group} ` : ''}COMMAND [options]`,
      '',
      'commands:',
      ...cmds.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
      '',
      "Run `peregrine COMMAND --help` for a command's options; `peregrine --version` for the version and commit.",
    ].join('\n') + '\n'
  );
}

/** Command groups (the first word of several commands) and what they are about. */
const GROUPS: Readonly<Record<string, string>> = {
  rules: 'rules as code: validate, list, test, lint and explain rules files',
  config: 'the daemon configuration: validate a file, print the defaults',
  alerts: 'alert delivery: test every configured sink',
  plugins: 'the plug-ins this build has: sources, sinks',
};

const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h' || a === 'help';

function findCommand(argv: readonly string[]): Command | undefined {
  return COMMANDS.find((c) => c.name.split(' ').every((w, i) => argv[i] === w));
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CommandIO): Promise<number> {
  if (argv[0] === '--version' || argv[0] === 'version') {
    const { version, commit } = buildInfo();
    io.stdout.write(`peregrine ${version} (commit ${commit})\n`);
    return 0;
  }
  if (argv.length === 0 || isHelp(argv[0])) {
    io.stdout.write(helpText());
    return argv.length === 0 ? 2 : 0;
  }
  const cmd = findCommand(argv);
  if (!cmd && argv[0] in GROUPS && COMMANDS.some((c) => c.name.startsWith(`${argv[0]} `))) {
    // `peregrine rules` / `peregrine rules --help`: the group's commands
    io.stdout.write(helpText(argv[0]));
    return argv.length === 1 || !isHelp(argv[1]) ? 2 : 0;
  }
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
    return await (await cmd.load()).run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`peregrine ${cmd.name}: ${errorMessage(err)}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    io.stderr.write(
      `peregrine ${cmd.name}: internal error: ${err instanceof Error && err.stack ? err.stack : errorMessage(err)}\n`,
    );
    return 70;
  }
}
