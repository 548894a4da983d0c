import { parseImageRef, type ContainerMeta } from '../event/index.js';
import type { CriContainer, CriContainerStatus, CriPodSandbox, StringMap } from './cri-client.js';

/** Labels kubelet puts on every container and sandbox (not the pod's own labels). */
const KUBELET_LABEL = /^io\.kubernetes\./;

/**
 * A container's metadata from what the runtime says of it and its sandbox: kubelet's
 * `io.kubernetes.*` labels first, containerd's `io.kubernetes.cri.sandbox-*` annotations as the
 * fallback, the sandbox's metadata last. Pod labels are the sandbox's labels without kubelet's.
 * Privileged and mounts come from the container's verbose status when given.
 */
export function containerMetaFromCri(
  c: CriContainer,
  sandbox?: CriPodSandbox,
  status?: CriContainerStatus,
): ContainerMeta {
  const l: StringMap = c.labels ?? {};
  const a: StringMap = c.annotations ?? {};
  const image = c.image?.user_specified_image || c.image?.image || c.image_ref || undefined;
  // a sandbox's image or an image id (sha256:…) is no reference to split
  const ref = image && !image.startsWith('sha256:') ? parseImageRef(image) : undefined;
  const digest = c.image_ref?.includes('@') ? c.image_ref.slice(c.image_ref.indexOf('@') + 1) : ref?.digest;
  const podLabels = sandbox
    ? Object.fromEntries(Object.entries(sandbox.labels ?? {}).filter(([k]) => !KUBELET_LABEL.test(k)))
    : undefined;
  return {
    id: c.id,
    name: l['io.kubernetes.container.name'] || a['io.kubernetes.cri.container-name'] || c.metadata?.name,
    image,
    imageRepository: ref?.repository,
    imageTag: ref?.tag,
    imageDigest: digest,
    podName: l['io.kubernetes.pod.name'] || a['io.kubernetes.cri.sandbox-name'] || sandbox?.metadata?.name,
    podNamespace:
      l['io.kubernetes.pod.namespace'] || a['io.kubernetes.cri.sandbox-namespace'] || sandbox?.metadata?.namespace,
    podUid: l['io.kubernetes.pod.uid'] || a['io.kubernetes.cri.sandbox-uid'] || sandbox?.metadata?.uid,
    podLabels,
    ...statusFields(status),
  };
}

/** A pod sandbox (its pause container) as a container of the pod: the pod's metadata, no image. */
export function sandboxMetaFromCri(s: CriPodSandbox): ContainerMeta {
  return {
    id: s.id,
    podName: s.metadata?.name,
    podNamespace: s.metadata?.namespace,
    podUid: s.metadata?.uid,
    podLabels: Object.fromEntries(Object.entries(s.labels ?? {}).filter(([k]) => !KUBELET_LABEL.test(k))),
  };
}

/** Privileged and mounts from a verbose `ContainerStatus` (containerd puts the OCI spec in `info`). */
function statusFields(status: CriContainerStatus | undefined): Pick<ContainerMeta, 'privileged' | 'mounts'> {
  if (!status?.status) return {};
  const mounts = (status.status.mounts ?? []).map((m) => ({
    source: m.host_path,
    dest: m.container_path,
    readonly: m.readonly,
  }));
  let privileged: boolean | undefined;
  try {
    const info = JSON.parse(status.info?.info ?? '{}') as {
      privileged?: unknown;
      config?: { linux?: { security_context?: { privileged?: unknown } } };
    };
    const p = info.privileged ?? info.config?.linux?.security_context?.privileged;
    // the runtime leaves `false` out of the container's config (omitempty)
    if (typeof p === 'boolean') privileged = p;
    else if (info.config) privileged = false;
  } catch {
    // no verbose info: privileged stays unknown
  }
  return { privileged, mounts };
}
