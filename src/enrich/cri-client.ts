import * as grpc from '@grpc/grpc-js';
import { codec, grpcTarget, loadProtoRoot } from '../transport/index.js';

/** A key → value map as CRI carries labels and annotations. */
export type StringMap = Readonly<Record<string, string>>;

/** A container as `ListContainers` describes it (the fields Peregrine reads). */
export interface CriContainer {
  readonly id: string;
  readonly pod_sandbox_id: string;
  readonly metadata?: { readonly name: string; readonly attempt: number };
  readonly image?: { readonly image: string; readonly user_specified_image?: string };
  readonly image_ref: string;
  readonly state: string;
  readonly created_at: string;
  readonly labels: StringMap;
  readonly annotations: StringMap;
}

/** A pod sandbox as `ListPodSandbox` describes it. */
export interface CriPodSandbox {
  readonly id: string;
  readonly metadata?: {
    readonly name: string;
    readonly uid: string;
    readonly namespace: string;
    readonly attempt: number;
  };
  readonly state: string;
  readonly created_at: string;
  readonly labels: StringMap;
  readonly annotations: StringMap;
}

/** A container's full status (`ContainerStatus`, verbose: `info` holds the runtime's JSON). */
export interface CriContainerStatus {
  readonly status?: CriContainer & {
    readonly mounts: ReadonlyArray<{
      readonly container_path: string;
      readonly host_path: string;
      readonly readonly: boolean;
    }>;
  };
  readonly info: StringMap;
}

/** A pod sandbox's full status (`PodSandboxStatus`): adds its IP. */
export interface CriPodSandboxStatus {
  readonly status?: CriPodSandbox & { readonly network?: { readonly ip: string } };
  readonly info: StringMap;
}

const SERVICE = '/runtime.v1.RuntimeService/';

/**
 * A client of the Container Runtime Interface (`runtime.v1`) over the runtime's unix socket
 * (containerd, CRI-O). Every call has a deadline; errors are the runtime's, with the method named.
 * The create/start/stop/remove calls exist for tests, which drive the runtime as kubelet does.
 */
export class CriClient {
  private readonly client: grpc.Client;
  private readonly root = loadProtoRoot();

  constructor(
    /** `unix:///run/containerd/containerd.sock` or a path. */
    readonly socket: string,
    private readonly timeoutMs = 5_000,
  ) {
    const address = socket.startsWith('unix://') ? socket : `unix://${socket}`;
    this.client = new grpc.Client(grpcTarget(address), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  /** The runtime's name and version (`containerd` 1.6.20, CRI `v1`). */
  version(): Promise<{ runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call('Version', {});
  }

  async listContainers(): Promise<CriContainer[]> {
    return (await this.call<{ containers: CriContainer[] }>('ListContainers', {})).containers;
  }

  async listPodSandboxes(): Promise<CriPodSandbox[]> {
    return (await this.call<{ items: CriPodSandbox[] }>('ListPodSandbox', {})).items;
  }

  containerStatus(id: string): Promise<CriContainerStatus> {
    return this.call('ContainerStatus', { container_id: id, verbose: true });
  }

  podSandboxStatus(id: string, verbose = false): Promise<CriPodSandboxStatus> {
    return this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose });
  }

  /**
   * The pid of a ready pod's sandbox (its pause process; its network namespace is the pod's), by
   * the pod's namespace and name; undefined when the runtime has no such ready pod or does not
   * say (containerd's verbose `info` carries it).
   */
  async podSandboxPid(namespace: string, name: string): Promise<number | undefined> {
    const id = await this.readyPodSandbox(namespace, name);
    if (!id) return undefined;
    const status = await this.podSandboxStatus(id, true);
    try {
      const pid = (JSON.parse(status.info?.info ?? '{}') as { pid?: unknown }).pid;
      return typeof pid === 'number' && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The id of the ready sandbox of pod `namespace/name`, if the runtime has one. */
  async readyPodSandbox(namespace: string, name: string): Promise<string | undefined> {
    return (await this.listPodSandboxes()).find(
      (x) => x.metadata?.namespace === namespace && x.metadata?.name === name && x.state === 'SANDBOX_READY',
    )?.id;
  }

  async runPodSandbox(config: object): Promise<string> {
    return (await this.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config })).pod_sandbox_id;
  }

  async createContainer(podSandboxId: string, config: object, sandboxConfig: object): Promise<string> {
    const r = await this.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: podSandboxId,
      config,
      sandbox_config: sandboxConfig,
    });
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('StartContainer', { container_id: id });
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  close(): void {
    this.client.close();
  }

  private call<Res extends object>(method: string, req: object): Promise<Res> {
    const reqCodec = codec<object>(this.root, `runtime.v1.${method}Request`);
    const resCodec = codec<Res>(
      this.root,
      `runtime.v1.${method === 'ListPodSandbox' ? 'ListPodSandbox' : method}Response`,
    );
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `${SERVICE}${method}`,
        reqCodec.serialize,
        resCodec.deserialize,
        req,
        { deadline: Date.now() + this.timeoutMs },
        (err, v) =>
          err || v === undefined
            ? reject(new Error(`CRI ${method} on ${this.socket}: ${err?.message ?? 'no response'}`, { cause: err }))
            : resolve(v),
      );
    });
  }
}
