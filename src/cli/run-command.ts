import { fileURLToPath } from 'node:url';
import type { Command } from './cli-error.js';
import { replayCommand } from './replay-command.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * `peregrine run`: the daemon's entry point. Until the daemon lands (issue: the daemon), it runs
 * the most complete main job that exists — the bundled rules over the bundled demo events —
 * and says so on stderr.
 */
export const runCommand: Command = {
  name: 'run',
  summary: 'start the agent (for now: bundled rules over the bundled demo events; the daemon is not built yet)',
  usage: 'peregrine run [--events FILE|-]',
  async run(args, io) {
    io.stderr.write('peregrine run: the daemon (live eBPF sensor, sinks) is not built yet; evaluating the bundled rules over the bundled demo events instead\n');
    const events = args[0] === '--events' && args[1] ? args[1] : `${ROOT}examples/demo-events.jsonl`;
    return replayCommand.run(['--rules', `${ROOT}rules`, '--events', events, '--rule-matching', 'all'], io);
  },
};
