import { parseArgs } from 'node:util';
import { askAgent } from '../respond/index.js';
import { UsageError, type CommandImpl } from './command.js';

/**
 * `peregrine responses release --pod NAMESPACE/NAME [--socket PATH]`: undoes an isolation now,
 * through the local agent's responses socket (root only: the socket is 0600). `--list` shows
 * what is isolated. Exit 0 done, 1 refused or unreachable, 2 usage.
 */
export const responsesReleaseCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: { pod: { type: 'string' }, socket: { type: 'string' }, list: { type: 'boolean' } },
    });
    const socket = values.socket ?? '/run/peregrine/responses.sock';
    if (!values.list && !values.pod) throw new UsageError('give --pod NAMESPACE/NAME (or --list)');
    if (values.pod && !/^[^/\s]+\/[^/\s]+$/.test(values.pod)) throw new UsageError('--pod takes NAMESPACE/NAME');
    try {
      const reply = await askAgent(socket, values.list ? { op: 'list' } : { op: 'release', pod: values.pod });
      if (values.list) io.stdout.write(`${JSON.stringify(reply.isolations ?? [])}\n`);
      else if (reply.ok)
        io.stdout.write(`released ${values.pod}: its label is removed and its node firewall is gone\n`);
      else io.stderr.write(`peregrine responses release: ${String(reply.error)}\n`);
      return reply.ok ? 0 : 1;
    } catch (err) {
      io.stderr.write(
        `peregrine responses release: ${err instanceof Error ? err.message : String(err)} (is the agent running, and are you root?)\n`,
      );
      return 1;
    }
  },
};
