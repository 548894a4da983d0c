import { BUNDLED_RULES, DEMO_EVENTS } from '../project-paths.js';
import type { Command } from './cli-error.js';
import { replayCommand } from './replay-command.js';


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
    const events = args[0] === '--events' && args[1] ? args[1] : DEMO_EVENTS;
    return replayCommand.run(['--rules', BUNDLED_RULES, '--events', events, '--rule-matching', 'all'], io);
  },
};
