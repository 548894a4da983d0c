/** One Kubernetes RBAC rule the agent needs. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

import { KUBE_METADATA_RBAC } from '../k8s/index.js';

/**
 * Every API permission the agent's code uses, declared beside the code that uses it;
 * deploy/base/rbac.yaml must grant exactly these (checked by a test).
 */
export const AGENT_RBAC: readonly PolicyRule[] = [...KUBE_METADATA_RBAC];
