import { KUBE_METADATA_RBAC } from '../k8s/index.js';
import { RESPONSE_ACTIONS, type ResponseAction } from '../respond/index.js';

/** One Kubernetes RBAC rule the agent needs. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** What responses need besides their actions: the pod guards read the pod and its owner; every outcome is an Event. */
const RESPONSE_GUARDS_RBAC: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets'], verbs: ['get'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];

/**
 * Merges rules into one per API group and resource, verbs sorted, rules sorted by group then
 * resource: a canonical form the deploy/ ClusterRole is compared with.
 */
export function mergeRbac(rules: readonly PolicyRule[]): PolicyRule[] {
  const verbs = new Map<string, Set<string>>();
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources) {
        const k = `${g}\u0000${res}`;
        const v = verbs.get(k) ?? new Set<string>();
        for (const x of r.verbs) v.add(x);
        verbs.set(k, v);
      }
  return [...verbs.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => {
      const [g, res] = k.split('\u0000');
      return { apiGroups: [g], resources: [res], verbs: [...v].sort() };
    });
}

/** The ClusterRole for pod metadata and the given response actions (all of them by default). */
export function agentRbac(actions: readonly ResponseAction[] = RESPONSE_ACTIONS): PolicyRule[] {
  return mergeRbac([
    ...KUBE_METADATA_RBAC,
    ...(actions.length ? RESPONSE_GUARDS_RBAC : []),
    ...actions.flatMap((a) => a.rbac),
  ]);
}

/** Actions that are off unless configured (their permissions are not in the default ClusterRole). */
export const OPT_IN_ACTIONS: readonly string[] = ['node:cordon'];

/**
 * Every API permission the agent's code uses, declared beside the code that uses it (pod
 * metadata, each enabled response action, the response guards); deploy/base/rbac.yaml grants
 * exactly these (checked by a test; `peregrine responses list --actions --json` shows each
 * action's, node:cordon's included).
 */
export const AGENT_RBAC: readonly PolicyRule[] = agentRbac(
  RESPONSE_ACTIONS.filter((a) => !OPT_IN_ACTIONS.includes(a.name)),
);
