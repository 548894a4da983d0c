import { z } from 'zod';
import { errorMessage } from '../../event/index.js';
import { defineAction } from '../response-action.js';

/**
 * `pod:stop`: stop the pod's containers at once through the container runtime (CRI
 * StopPodSandbox: every process of the pod ends now), then delete the pod through the API with a
 * grace period so its controller replaces it. Stopping cannot undo what the pod already did.
 */
export const podStop = defineAction({
  name: 'pod:stop',
  description: "stop the pod's containers now (CRI), then delete it so its controller replaces it",
  parameters: z.object({ grace_period_seconds: z.number().int().min(0).max(3600).default(0) }).strict(),
  requires: ['k8s.ns.name', 'k8s.pod.name'],
  rbac: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'delete'] }],
  podScoped: true,
  async run({ target, params, services, shared }) {
    if (!target.namespace || !target.podName) return { outcome: 'failed', reason: 'the alert names no pod' };
    const steps: string[] = [];
    let ok = false;
    if (services.stopPodSandbox)
      try {
        ok = await services.stopPodSandbox(target.namespace, target.podName);
        steps.push(ok ? 'containers stopped by the runtime' : 'the runtime on this node has no such pod');
      } catch (err) {
        steps.push(`runtime stop failed: ${errorMessage(err)}`);
      }
    else steps.push('no container runtime on this node');
    const uid = shared.get('pod.uid');
    if (services.pods && uid)
      try {
        await services.pods.delete(target.namespace, target.podName, uid, params.grace_period_seconds);
        steps.push(`deleted with a grace period of ${params.grace_period_seconds} s`);
        ok = true;
      } catch (err) {
        steps.push(`delete failed: ${errorMessage(err)}`);
      }
    return { outcome: ok ? 'applied' : 'failed', reason: steps.join('; ') };
  },
});
