import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { Backoff, codec, grpcTarget, loadProtoRoot } from '../transport/index.js';

/** Topics after which the runtime's containers or sandboxes may have changed. */
const RELEVANT = /^\/(containers|tasks|sandboxes)\//;

/**
 * Follows containerd's events service (on the CRI socket; Kubernetes' namespace `k8s.io`) and
 * calls `onChange` when a container, task or sandbox changed, so the metadata cache re-lists at
 * once instead of on the first miss. Reconnects forever with backoff; `onChange` also runs on
 * every (re)connect, since events may have been missed in between. Never throws.
 */
export class ContainerdEvents {
  /** Envelopes received, and how many of them mattered. */
  readonly stats = { received: 0, relevant: 0, connects: 0 };
  private readonly client: grpc.Client;
  private call: grpc.ClientReadableStream<{ topic: string }> | undefined;
  private readonly backoff = new Backoff();
  private readonly limiter = new RateLimiter();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly socket: string,
    private readonly onChange: () => void,
    logger?: Logger,
  ) {
    this.log = logger ?? silentLogger();
    this.client = new grpc.Client(
      grpcTarget(socket.startsWith('unix://') ? socket : `unix://${socket}`),
      grpc.credentials.createInsecure(),
    );
  }

  start(): void {
    const root = loadProtoRoot();
    const req = codec<object>(root, 'containerd.services.events.v1.SubscribeRequest');
    const res = codec<{ topic: string }>(root, 'containerd.services.events.v1.Envelope');
    const connect = (): void => {
      if (this.stopped) return;
      const call = this.client.makeServerStreamRequest(
        '/containerd.services.events.v1.Events/Subscribe',
        req.serialize,
        res.deserialize,
        {
          filters: ['namespace==k8s.io'],
        },
      );
      this.call = call;
      call.on('metadata', () => {
        this.stats.connects++;
        this.backoff.reset();
        this.onChange(); // what happened while not subscribed
      });
      call.on('data', (e: { topic: string }) => {
        this.stats.received++;
        if (RELEVANT.test(e.topic)) {
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
            { socket: this.socket, why, retryInMs: delay, suppressed: n },
            'containerd events: stream ended; following again soon',
          );
        this.timer = setTimeout(connect, delay);
        this.timer.unref();
      };
      call.on('error', (err: Error) => retry(errorMessage(err)));
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
