import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { Backoff, codec, grpcTarget, loadProtoRoot } from '../transport/index.js';

/** One way a runtime announces container changes on its socket. */
export interface RuntimeEventFeed {
  /** For logs: `CRI GetContainerEvents`, `containerd events`. */
  readonly name: string;
  /** The server-streaming method. */
  readonly method: string;
  readonly requestType: string;
  readonly responseType: string;
  readonly request: object;
  /** Whether a message means containers or sandboxes may have changed. */
  readonly relevant: (message: Record<string, unknown>) => boolean;
}

/** Kubernetes' CRI stream of container lifecycle events (containerd ≥ 1.7, CRI-O ≥ 1.26). */
export const CRI_CONTAINER_EVENTS: RuntimeEventFeed = {
  name: 'CRI GetContainerEvents',
  method: '/runtime.v1.RuntimeService/GetContainerEvents',
  requestType: 'runtime.v1.GetEventsRequest',
  responseType: 'runtime.v1.ContainerEventResponse',
  request: {},
  relevant: () => true,
};

/** containerd's own events service (every containerd, 1.6 included), Kubernetes' namespace only. */
export const CONTAINERD_EVENTS: RuntimeEventFeed = {
  name: 'containerd events',
  method: '/containerd.services.events.v1.Events/Subscribe',
  requestType: 'containerd.services.events.v1.SubscribeRequest',
  responseType: 'containerd.services.events.v1.Envelope',
  request: { filters: ['namespace==k8s.io'] },
  relevant: (e) => typeof e.topic === 'string' && /^\/(containers|tasks|sandboxes)\//.test(e.topic),
};

/**
 * Follows one of the runtime's event streams on its socket and calls `onChange` when containers
 * or sandboxes may have changed, so the metadata cache re-lists at once instead of on the first
 * miss. Reconnects forever with backoff; `onChange` also runs on every (re)connect, since events
 * may have been missed in between. A runtime without the method (gRPC `UNIMPLEMENTED`) ends it
 * and calls `onUnsupported`, once. Never throws.
 */
export class RuntimeEvents {
  /** Messages received, how many of them mattered, and (re)connections. */
  readonly stats = { received: 0, relevant: 0, connects: 0 };
  private readonly client: grpc.Client;
  private call: grpc.ClientReadableStream<Record<string, unknown>> | undefined;
  private readonly backoff = new Backoff();
  private readonly limiter = new RateLimiter();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly socket: string,
    private readonly feed: RuntimeEventFeed,
    private readonly onChange: () => void,
    private readonly opts: { readonly logger?: Logger; readonly onUnsupported?: () => void } = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    this.client = new grpc.Client(
      grpcTarget(socket.startsWith('unix://') ? socket : `unix://${socket}`),
      grpc.credentials.createInsecure(),
    );
  }

  start(): void {
    const root = loadProtoRoot();
    const req = codec<object>(root, this.feed.requestType);
    const res = codec<Record<string, unknown>>(root, this.feed.responseType);
    const connect = (): void => {
      if (this.stopped) return;
      const call = this.client.makeServerStreamRequest(
        this.feed.method,
        req.serialize,
        res.deserialize,
        this.feed.request,
      );
      this.call = call;
      call.on('metadata', () => {
        this.stats.connects++;
        this.backoff.reset();
        this.onChange(); // what happened while not subscribed
      });
      call.on('data', (e: Record<string, unknown>) => {
        this.stats.received++;
        if (this.feed.relevant(e)) {
          this.stats.relevant++;
          this.onChange();
        }
      });
      const retry = (why: string): void => {
        if (this.call !== call || this.stopped) return;
        this.call = undefined;
        const delay = this.backoff.next();
        const n = this.limiter.allow('disconnect');
        if (n >= 0)
          this.log.warn(
            { socket: this.socket, feed: this.feed.name, why, retryInMs: delay, suppressed: n },
            'container runtime events: stream ended; following again soon',
          );
        this.timer = setTimeout(connect, delay);
        this.timer.unref();
      };
      call.on('error', (err: grpc.ServiceError) => {
        if (err.code === grpc.status.UNIMPLEMENTED && this.stats.connects === 0) {
          this.stopped = true;
          this.call = undefined;
          this.opts.onUnsupported?.();
          return;
        }
        retry(errorMessage(err));
      });
      call.on('end', () => retry('ended'));
    };
    connect();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.client.close();
  }
}
