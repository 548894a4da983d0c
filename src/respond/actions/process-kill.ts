import { z } from 'zod';
import { errorMessage, processStartNs } from '../../event/index.js';
import { defineAction } from '../response-action.js';

/** Two readers of /proc may disagree on the boot second (see processStartNs): within this, the same process. */
const START_TOLERANCE_NS = 1_100_000_000n;

/**
 * `process:kill`: SIGKILL the offending process on this node, the fast path. Only when the
 * process's start time still matches the event's (a reused pid is another process) and never
 * Peregrine's own processes, PID 1 or a kernel thread. It cannot undo what the process already
 * did (a write, a connection): it stops what it would do next.
 */
export const processKill = defineAction({
  name: 'process:kill',
  description: 'SIGKILL the process of the event, on this node (pid-reuse and self guards)',
  parameters: z.object({}).strict(),
  requires: ['proc.pid'],
  rbac: [],
  podScoped: false,
  async run({ target, services }) {
    const pid = target.pid;
    if (pid === undefined) return { outcome: 'skipped', reason: 'the alert names no process (proc.pid)' };
    if (pid <= 2) return { outcome: 'skipped', reason: `pid ${pid} is the init process or kthreadd` };
    if (services.protectedPids().has(pid))
      return { outcome: 'skipped', reason: `pid ${pid} is Peregrine's own process` };
    if (target.processStartNs === undefined)
      return {
        outcome: 'skipped',
        reason: 'the event carries no process start time (proc.duration): a reused pid could not be told apart',
      };
    const now = processStartNs(pid, services.procRoot);
    if (now === undefined) return { outcome: 'skipped', reason: `pid ${pid} has already exited` };
    const diff = now > target.processStartNs ? now - target.processStartNs : target.processStartNs - now;
    if (diff > START_TOLERANCE_NS)
      return {
        outcome: 'skipped',
        reason: `pid ${pid} now belongs to a process started ${Number(diff / 1_000_000n)} ms apart from the event's: the pid was reused`,
      };
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') return { outcome: 'skipped', reason: `pid ${pid} exited just before the kill` };
      return { outcome: 'failed', reason: `kill(${pid}, SIGKILL): ${errorMessage(err)}` };
    }
    return { outcome: 'applied', reason: `SIGKILL sent to pid ${pid}`, details: { 'process.pid': String(pid) } };
  },
});
