import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

/** Where the service account's token is mounted in a pod (in-cluster configuration). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** A Kubernetes API configuration and where it came from (said in the log). */
export interface FoundKubeConfig {
  readonly config: KubeConfig;
  /** `kubeconfig FILE` or `in-cluster`. */
  readonly from: string;
  /** The API server's address. */
  readonly server: string;
}

/** Thrown when a named kubeconfig cannot be read: start-up fails saying which file and why. */
export class KubeConfigError extends Error {
  constructor(
    readonly file: string,
    why: string,
  ) {
    super(`kubeconfig ${file}: ${why}`);
    this.name = 'KubeConfigError';
  }
}

/**
 * Finds the Kubernetes API: the configured kubeconfig, else `$KUBECONFIG`, else the in-cluster
 * service account (`KUBERNETES_SERVICE_HOST` set and its token mounted); else undefined (no
 * Kubernetes: API enrichment is off). `~/.kube/config` is never read implicitly: an agent on a
 * workstation must not watch whichever cluster its user last chose. A named file that cannot be
 * loaded throws {@link KubeConfigError}.
 */
export function findKubeConfig(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): FoundKubeConfig | undefined {
  const file = kubeconfig ?? (env.KUBECONFIG ? env.KUBECONFIG.split(':')[0] : undefined);
  const config = new KubeConfig();
  if (file) {
    try {
      config.loadFromFile(file);
    } catch (err) {
      throw new KubeConfigError(file, err instanceof Error ? err.message : String(err));
    }
    const server = config.getCurrentCluster()?.server;
    if (!server) throw new KubeConfigError(file, 'its current context names no cluster with a server');
    return { config, from: `kubeconfig ${file}`, server };
  }
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    config.loadFromCluster();
    return { config, from: 'in-cluster', server: config.getCurrentCluster()?.server ?? '' };
  }
  return undefined;
}
