import { z } from 'zod';
import { errorMessage } from '../../event/index.js';
import { defineAction } from '../response-action.js';

/**
 * `pod:delete`: delete the pod with a grace period (its controller replaces it), or evict it
 * through the Eviction API (`evict: true`) where a PodDisruptionBudget must be respected. Both
 * are pinned to the pod's UID: a new pod of the same name is never touched.
 */
export const podDelete = defineAction({
  name: 'pod:delete',
  description: 'delete the pod with a grace period, or evict it (PodDisruptionBudgets respected)',
  parameters: z
    .object({
      grace_period_seconds: z.number().int().min(0).max(3600).default(30),
      evict: z.boolean().default(false),
    })
    .strict(),
  requires: ['k8s.ns.name', 'k8s.pod.name'],
  rbac: [
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'delete'] },
    { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  ],
  podScoped: true,
  async run({ target, params, services, shared }) {
    const pods = services.pods;
    const uid = shared.get('pod.uid');
    if (!pods || !target.namespace || !target.podName || !uid)
      return { outcome: 'failed', reason: 'no Kubernetes API to delete the pod through' };
    try {
      if (params.evict) await pods.evict(target.namespace, target.podName, uid, params.grace_period_seconds);
      else await pods.delete(target.namespace, target.podName, uid, params.grace_period_seconds);
    } catch (err) {
      return { outcome: 'failed', reason: errorMessage(err) };
    }
    return {
      outcome: 'applied',
      reason: `${params.evict ? 'evicted' : 'deleted'} with a grace period of ${params.grace_period_seconds} s`,
    };
  },
});
