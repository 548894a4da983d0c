import { z } from 'zod';
import { errorMessage } from '../../event/index.js';
import { defineAction } from '../response-action.js';

/**
 * `node:cordon`: mark this node unschedulable, so no new pod lands where a compromise was seen
 * (running pods stay). Off by default: it acts on the whole node, so it runs only with
 * `responses.allowNodeCordon: true`, and its permission (patch nodes) is not in the default
 * ClusterRole. Undo with `kubectl uncordon`.
 */
export const nodeCordon = defineAction({
  name: 'node:cordon',
  description: 'mark this node unschedulable (off unless responses.allowNodeCordon)',
  parameters: z.object({}).strict(),
  requires: [],
  rbac: [{ apiGroups: [''], resources: ['nodes'], verbs: ['patch'] }],
  podScoped: false,
  async run({ services }) {
    if (!services.allowNodeCordon)
      return { outcome: 'skipped', reason: 'node:cordon is off: set responses.allowNodeCordon: true to allow it' };
    if (!services.pods || !services.nodeName)
      return { outcome: 'failed', reason: 'no Kubernetes API to cordon the node through' };
    try {
      await services.pods.cordon(services.nodeName);
    } catch (err) {
      return { outcome: 'failed', reason: errorMessage(err) };
    }
    return {
      outcome: 'applied',
      reason: `node ${services.nodeName} cordoned (kubectl uncordon ${services.nodeName} to undo)`,
    };
  },
});
