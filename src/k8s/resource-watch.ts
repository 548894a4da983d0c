import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../event/index.js';
import { RateLimiter, silentLogger, type Logger } from '../telemetry/index.js';

/** The part of every Kubernetes object a watch reads. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** A list response: the items and the resourceVersion to watch from. */
export interface KubeList<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

/** What a watch has done (a snapshot). */
export interface ResourceWatchStats {
  /** Full lists (start, after `410 Gone`, after an error). */
  lists: number;
  /** Watch requests (each list is followed by one; each server-side timeout by another). */
  watches: number;
  /** ADDED, MODIFIED and DELETED events applied. */
  events: number;
  bookmarks: number;
  /** `410 Gone`: the watch's resourceVersion was compacted away; answered by a re-list. */
  gone: number;
  /** Failed requests and broken watches, each followed by a backoff. */
  errors: number;
  /** True from the first successful list on while the last request did not fail. */
  synced: boolean;
}

export interface ResourceWatchOptions<T extends KubeObject> {
  readonly config: KubeConfig;
  /** What is watched, for logs (`pods on node n1`). */
  readonly what: string;
  /** The collection's URL path (`/api/v1/pods`). */
  readonly path: string;
  /** Query parameters of both the list and the watch (`fieldSelector`). */
  readonly query?: Readonly<Record<string, string>>;
  /** Lists the collection (with `query`). */
  readonly list: () => Promise<KubeList<T>>;
  /** The complete collection, after each list. */
  readonly onReset: (items: T[]) => void;
  /** One change, in the API server's order. */
  readonly onChange: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T) => void;
  readonly logger?: Logger;
  /** The server ends each watch after this long (Kubernetes' `timeoutSeconds`); default 300. */
  readonly timeoutSeconds?: number;
  /** A watch silent this long (no event, no bookmark) is assumed dead and re-opened; default timeoutSeconds + 30 s. */
  readonly idleMs?: number;
  /** Backoff after a failure: doubles from `minMs` to `maxMs` (defaults 500 ms, 30 s), with jitter. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
}

/**
 * One collection kept current the way informers do it, without their resync: list, then watch
 * from the list's resourceVersion with bookmarks (so a re-opened watch resumes where it left
 * off); `410 Gone` (the version was compacted) → list again; any other failure → back off and
 * reconnect, while the caller keeps serving what it has. The API server sees one list at start
 * and one long-lived watch, never a request per event.
 */
export class ResourceWatch<T extends KubeObject> {
  readonly stats: ResourceWatchStats = {
    lists: 0,
    watches: 0,
    events: 0,
    bookmarks: 0,
    gone: 0,
    errors: 0,
    synced: false,
  };
  private readonly log: Logger;
  private readonly limiter = new RateLimiter(30_000, 2);
  private readonly watch: Watch;
  private resourceVersion: string | undefined;
  private controller: AbortController | undefined;
  /** Ends the current watch request (also before its response has begun, when there is no controller yet). */
  private endWatch: (() => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;
  private firstSync: { promise: Promise<void>; resolve: () => void };

  constructor(private readonly opts: ResourceWatchOptions<T>) {
    this.log = opts.logger ?? silentLogger();
    this.watch = new Watch(opts.config);
    let resolve!: () => void;
    this.firstSync = { promise: new Promise<void>((r) => (resolve = r)), resolve };
  }

  /** Starts the loop; resolves after the first list or after `waitMs`, whichever is first (never rejects). */
  async start(waitMs = 5_000): Promise<boolean> {
    this.loop ??= this.run();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((r) => (timer = setTimeout(r, waitMs)));
    await Promise.race([this.firstSync.promise, timedOut]);
    clearTimeout(timer);
    return this.stats.synced;
  }

  /** Ends the watch; resolves when the loop has stopped. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.endWatch?.();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watchOnce();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) break;
        this.stats.errors++;
        this.stats.synced = false;
        this.failures++;
        const delay = this.backoffMs();
        if (this.limiter.allow('error') >= 0)
          this.log.warn(
            { what: this.opts.what, err: describe(err), retryInMs: delay },
            'Kubernetes API watch failed: serving the metadata already known, reconnecting',
          );
        await this.sleep(delay);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.opts.list();
    this.stats.lists++;
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.opts.onReset(list.items);
    if (!this.stats.synced) this.log.debug({ what: this.opts.what, items: list.items.length }, 'listed');
    this.stats.synced = true;
    this.firstSync.resolve();
  }

  /** One watch request: resolves when it ends normally (or on 410, after forgetting the version), rejects on failure. */
  private watchOnce(): Promise<void> {
    const timeoutSeconds = this.opts.timeoutSeconds ?? 300;
    const idleMs = this.opts.idleMs ?? (timeoutSeconds + 30) * 1_000;
    return new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        this.endWatch = undefined;
        this.controller?.abort();
        if (err === undefined || this.stopped) resolve();
        else reject(err instanceof Error ? err : new Error(describe(err)));
      };
      const alive = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => finish(new Error(`watch silent for ${idleMs} ms`)), idleMs);
        idle.unref();
      };
      this.endWatch = () => finish();
      alive();
      this.stats.watches++;
      const query = {
        ...this.opts.query,
        resourceVersion: this.resourceVersion ?? '',
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(timeoutSeconds),
      };
      this.watch
        .watch(
          this.opts.path,
          query,
          (type: string, obj: unknown) => {
            alive();
            this.apply(type, obj, finish);
          },
          (err: unknown) => {
            if (isGone(err)) {
              this.gone();
              finish();
            } else finish(err ?? undefined);
          },
        )
        .then((c) => {
          this.controller = c;
          if (this.stopped || settled) c.abort();
        }, finish);
    });
  }

  private apply(type: string, obj: unknown, finish: (err?: unknown) => void): void {
    if (typeof obj !== 'object' || obj === null) return;
    const o = obj as T & { code?: number; message?: string };
    if (type === 'ERROR') {
      if (o.code === 410) {
        this.gone();
        finish();
      } else finish(new Error(`watch error ${o.code ?? ''}: ${o.message ?? 'no message'}`));
      return;
    }
    const rv = o.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      this.stats.bookmarks++;
      if (rv) this.resourceVersion = rv;
      return;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
    if (rv) this.resourceVersion = rv;
    this.stats.events++;
    this.opts.onChange(type, o);
  }

  private gone(): void {
    this.stats.gone++;
    this.resourceVersion = undefined;
    this.log.info({ what: this.opts.what }, 'watch resourceVersion expired (410 Gone): listing again');
  }

  private backoffMs(): number {
    const { minMs, maxMs } = this.opts.backoff ?? { minMs: 500, maxMs: 30_000 };
    const base = Math.min(maxMs, minMs * 2 ** Math.min(this.failures - 1, 16));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

/** True for an HTTP `410 Gone` from the client (a watch or list response). */
function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number } | null | undefined;
  return e?.statusCode === 410 || e?.code === 410;
}

/** A failure in words: the HTTP status and the API server's message when there is one. */
export function describe(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown } | null | undefined;
  const status = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  let message = errorMessage(err);
  let body: unknown = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* not a Status object */
    }
  }
  const statusMessage = (body as { message?: unknown } | null | undefined)?.message;
  if (typeof statusMessage === 'string') message = statusMessage;
  const hint =
    status === 401
      ? ' (the API server does not accept the credentials: check the service account token or kubeconfig user)'
      : status === 403
        ? ' (not permitted: the ClusterRole in deploy/ grants what Peregrine needs)'
        : '';
  return `${status !== undefined ? `HTTP ${status}: ` : ''}${message.slice(0, 300)}${hint}`;
}
