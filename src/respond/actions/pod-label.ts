import { z } from 'zod';
import { errorMessage } from '../../event/index.js';
import { defineAction } from '../response-action.js';

/** A Kubernetes label key (optional DNS prefix, then a name of at most 63 characters). */
const LabelKey = z
  .string()
  .max(317)
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    {
      message: 'not a Kubernetes label key (prefix/name, name ≤ 63 characters of [A-Za-z0-9-_.])',
    },
  );
const LabelValue = z.string().regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, {
  message: 'not a Kubernetes label value (≤ 63 characters)',
});

/** `pod:label`: add (`set`) or remove (`remove`) labels on the pod, with a JSON merge patch pinned to its UID. */
export const podLabel = defineAction({
  name: 'pod:label',
  description: 'add or remove labels on the pod (JSON merge patch)',
  parameters: z
    .object({
      set: z.record(LabelKey, LabelValue).default({}),
      remove: z.array(LabelKey).default([]),
    })
    .strict()
    .refine((p) => Object.keys(p.set).length + p.remove.length > 0, { message: 'give labels to `set` or `remove`' }),
  requires: ['k8s.ns.name', 'k8s.pod.name'],
  rbac: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] }],
  podScoped: true,
  async run({ target, params, services, shared }) {
    const pods = services.pods;
    const uid = shared.get('pod.uid');
    if (!pods || !target.namespace || !target.podName || !uid)
      return { outcome: 'failed', reason: 'no Kubernetes API to label the pod through' };
    const patch: Record<string, string | null> = { ...params.set };
    for (const k of params.remove) patch[k] = null;
    try {
      await pods.patchLabels(target.namespace, target.podName, uid, patch);
    } catch (err) {
      return { outcome: 'failed', reason: errorMessage(err) };
    }
    const what = [
      ...Object.entries(params.set).map(([k, v]) => `${k}=${v}`),
      ...params.remove.map((k) => `-${k}`),
    ].join(' ');
    return { outcome: 'applied', reason: `labels ${what}` };
  },
});
