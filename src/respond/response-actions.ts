import type { ResponseAction } from './response-action.js';
import { processKill } from './actions/process-kill.js';
import { evidenceCapture } from './actions/evidence-capture.js';
import { podLabel } from './actions/pod-label.js';
import { podDelete } from './actions/pod-delete.js';
import { podIsolate } from './actions/pod-isolate.js';
import { podStop } from './actions/pod-stop.js';
import { nodeCordon } from './actions/node-cordon.js';

/** Every response action, one file each under actions/. */
export const RESPONSE_ACTIONS: readonly ResponseAction[] = [
  evidenceCapture,
  processKill,
  podStop,
  podIsolate,
  podLabel,
  podDelete,
  nodeCordon,
].map((a) => a as unknown as ResponseAction);

/** The action named `name` (`process:kill`), or undefined. */
export function responseActionFor(name: string): ResponseAction | undefined {
  return RESPONSE_ACTIONS.find((a) => a.name === name);
}
