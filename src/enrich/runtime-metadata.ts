import { errorMessage, type ContainerMeta } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';
import { SYSTEM_CLOCK, type Clock } from '../clock.js';
import type { CriClient, CriPodSandbox } from './cri-client.js';
import { containerMetaFromCri, sandboxMetaFromCri } from './container-meta-from-cri.js';
import { CONTAINERD_EVENTS, CRI_CONTAINER_EVENTS, RuntimeEvents } from './runtime-events.js';

/** What the runtime cache has done (a snapshot; see src/lifecycle.ts). */
export interface RuntimeMetadataStats {
  containers: number;
  recent: number;
  lists: number;
  listFailures: number;
  hits: number;
  misses: number;
}

export interface RuntimeMetadataOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Containers removed from the runtime kept resolvable (least recently removed first out). Default 1024. */
  readonly recentMax?: number;
  /** Re-lists at most this often when lookups miss. Default 500 ms. */
  readonly relistMs?: number;
  /** Follow the runtime's container events (CRI, else containerd's). Default true. */
  readonly followEvents?: boolean;
}

/**
 * Container and pod metadata from the node's container runtime (CRI), by container id: the full
 * id or the 12-character prefix Falco prints. Lists everything once at start (statuses for
 * privileged and mounts included), then re-lists when a lookup misses (at most every
 * `relistMs`), so lookups never wait on the runtime. Containers gone from a re-list stay
 * resolvable in a bounded LRU, so a dying pod's last events keep their metadata.
 *
 * Changes are followed as they happen: CRI `GetContainerEvents` where the runtime has it
 * (containerd ≥ 1.7, CRI-O ≥ 1.26), else containerd's events service; on each, the cache
 * re-lists at once (see {@link RuntimeEvents}). A runtime with neither is re-listed on misses.
 */
export class RuntimeMetadata {
  readonly stats: RuntimeMetadataStats = { containers: 0, recent: 0, lists: 0, listFailures: 0, hits: 0, misses: 0 };
  /** Changes with every listing (enrichers revalidate what they cached). */
  version = 0;
  private byId = new Map<string, ContainerMeta>();
  private readonly recent = new Map<string, ContainerMeta>();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly limiter = new RateLimiter();
  private listing: Promise<void> | undefined;
  private lastList = -Infinity;
  private stopped = false;
  /** A change was announced while a listing ran: list once more after it. */
  private dirty = false;
  private events: RuntimeEvents | undefined;
  /** Which event stream is followed (`none` until one answers or when none exists). */
  feed = 'none';
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly cri: CriClient,
    private readonly opts: RuntimeMetadataOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    this.clock = opts.clock ?? SYSTEM_CLOCK;
  }

  /** Lists the runtime's containers; rejects when the runtime does not answer. */
  async start(): Promise<void> {
    const v = await this.cri.version();
    this.log.info(
      { socket: this.cri.socket, runtime: `${v.runtime_name} ${v.runtime_version}` },
      'container runtime metadata on',
    );
    await this.list();
    if (this.opts.followEvents !== false) this.follow(v.runtime_name === 'containerd');
  }

  /** Follows CRI's container events; where the runtime lacks them, containerd's own (on containerd). */
  private follow(isContainerd: boolean): void {
    const onChange = (): void => void this.changed();
    const use = (feed: typeof CRI_CONTAINER_EVENTS, onUnsupported?: () => void): void => {
      this.feed = feed.name;
      this.events = new RuntimeEvents(this.cri.socket, feed, onChange, { logger: this.log, onUnsupported });
      this.events.start();
    };
    use(CRI_CONTAINER_EVENTS, () => {
      if (this.stopped) return;
      if (isContainerd) use(CONTAINERD_EVENTS);
      else {
        this.feed = 'none';
        this.log.info(
          { socket: this.cri.socket },
          'the container runtime has no event stream: containers are found by re-listing when an unknown one is seen',
        );
      }
    });
  }

  /** The runtime announced a change: re-list, and once more if a listing was already running. */
  private changed(): Promise<void> {
    if (this.listing) {
      this.dirty = true;
      return this.listing;
    }
    return this.relist();
  }

  /** Calls `fn` after every successful listing. */
  onList(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** The container's metadata by full id or 12-character prefix; a miss schedules a re-list. */
  lookup(id: string): ContainerMeta | undefined {
    const m = this.byId.get(id) ?? this.recent.get(id);
    if (m) {
      this.stats.hits++;
      return m;
    }
    this.stats.misses++;
    if (!this.stopped && this.clock.now() - this.lastList >= (this.opts.relistMs ?? 500)) void this.relist();
    return undefined;
  }

  /** Re-lists now (or joins the re-list in flight); never rejects (failures are counted and logged). */
  relist(): Promise<void> {
    this.listing ??= this.list()
      .catch((err: unknown) => {
        this.stats.listFailures++;
        const n = this.limiter.allow('list');
        if (n >= 0)
          this.log.warn(
            { socket: this.cri.socket, err: errorMessage(err), suppressed: n },
            'container runtime: listing failed; serving what is cached',
          );
      })
      .finally(() => {
        this.listing = undefined;
        if (this.dirty && !this.stopped) {
          this.dirty = false;
          void this.relist();
        }
      });
    return this.listing;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.events?.shutdown();
    await this.listing;
    this.cri.close();
  }

  private async list(): Promise<void> {
    this.lastList = this.clock.now();
    const [containers, sandboxes] = await Promise.all([this.cri.listContainers(), this.cri.listPodSandboxes()]);
    const pods = new Map<string, CriPodSandbox>(sandboxes.map((s) => [s.id, s]));
    const next = new Map<string, ContainerMeta>();
    for (const c of containers) {
      const known = this.byId.get(c.id);
      // statuses (privileged, mounts) once per container: they do not change
      const meta =
        known ??
        containerMetaFromCri(
          c,
          pods.get(c.pod_sandbox_id),
          await this.cri.containerStatus(c.id).catch(() => undefined),
        );
      next.set(c.id, meta);
      next.set(c.id.slice(0, 12), meta);
    }
    // events of a pod's sandbox (its pause process) belong to the pod too
    for (const s of sandboxes) {
      const meta = this.byId.get(s.id) ?? sandboxMetaFromCri(s);
      next.set(s.id, meta);
      next.set(s.id.slice(0, 12), meta);
    }
    for (const [k, m] of this.byId) if (!next.has(k)) this.remember(k, m);
    this.byId = next;
    this.version++;
    this.stats.lists++;
    this.stats.containers = containers.length;
    for (const fn of this.listeners) fn();
  }

  private remember(key: string, m: ContainerMeta): void {
    this.recent.delete(key);
    this.recent.set(key, m);
    const max = (this.opts.recentMax ?? 1024) * 2; // two keys per container
    while (this.recent.size > max) this.recent.delete(this.recent.keys().next().value as string);
    this.stats.recent = this.recent.size / 2;
  }
}
