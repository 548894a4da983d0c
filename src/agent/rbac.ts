/** One Kubernetes RBAC rule the agent needs. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/**
 * Every API permission the agent's code uses, declared beside it; deploy/base/rbac.yaml must
 * grant exactly these (checked by a test). Today: none — pod enrichment (list/watch pods on this
 * node) and the responders (labels, NetworkPolicies, pod deletion) add theirs here when they land.
 */
export const AGENT_RBAC: readonly PolicyRule[] = [];
