import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fieldSelector, labelSelector, SelectorError, type Obj } from './selectors.js';
import { jsonPatch, mergePatch, PatchError } from './patch.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';

export type { Obj } from './selectors.js';

/** A resource type the server serves. */
interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Field selector labels besides metadata.name and metadata.namespace. */
  readonly fields?: readonly string[];
}

const RESOURCES: readonly ResourceType[] = [
  {
    group: '',
    version: 'v1',
    plural: 'pods',
    kind: 'Pod',
    namespaced: true,
    fields: ['spec.nodeName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'spec.restartPolicy'],
  },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, fields: ['status.phase'] },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, fields: ['spec.unschedulable'] },
  {
    group: '',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    fields: [
      'involvedObject.kind',
      'involvedObject.name',
      'involvedObject.namespace',
      'involvedObject.uid',
      'reason',
      'type',
      'source',
    ],
  },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
];

type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/** One request the server answered (tests assert on API load and on what a client sent). */
export interface RecordedRequest {
  readonly verb: Verb | 'evict';
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly status: number;
  readonly body?: unknown;
}

export interface FakeApiServerOptions {
  /** Requests must carry `Authorization: Bearer TOKEN` (else 401). Default 'peregrine-test-token'. */
  readonly token?: string;
  /** Changes kept for watches to resume from; older resourceVersions get `410 Gone`. Default 1000. */
  readonly historyMax?: number;
  /** BOOKMARK events every this many ms on watches that allow them. Default 1000 (kube-apiserver: about 60 s). */
  readonly bookmarkMs?: number;
  /** A pod deleted with a grace period goes after grace × this (kubelet's confirmation, sped up). Default 0.001. */
  readonly graceScale?: number;
}

interface Change {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resource: ResourceType;
  readonly obj: Obj;
  readonly prev?: Obj;
}

interface OpenWatch {
  readonly resource: ResourceType;
  readonly namespace?: string;
  readonly matches: (o: Obj) => boolean;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A faithful stand-in for kube-apiserver, for the tests that cannot have one: HTTPS/JSON, the
 * resources above, list and watch with resourceVersions, bookmarks, field and label selectors,
 * `410 Gone` for compacted versions, get/create/update/patch/delete, pod eviction with
 * PodDisruptionBudgets, optimistic concurrency, bearer-token authentication (401) and
 * per-verb authorization (403), and Status objects for every error. README.md says what it
 * reproduces and what it does not. One instance per test file; `@kubernetes/client-node` talks
 * to it through the kubeconfig it writes.
 */
export class FakeApiServer {
  /** Every request answered, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly store = new Map<string, Obj>();
  private readonly history: Change[] = [];
  private readonly watches = new Set<OpenWatch>();
  private rv = 1000;
  /** The oldest resourceVersion a watch may resume from. */
  private compactedRv = 1000;
  private token: string;
  private readonly forbidden = new Set<string>();
  private failures: Array<{ status: number; match: (r: { verb: string; resource: string }) => boolean }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The server's certificate and the CA that signed it (the kubeconfig trusts the CA). */
  readonly certs: TestCerts;

  constructor(private readonly opts: FakeApiServerOptions = {}) {
    this.token = opts.token ?? 'peregrine-test-token';
    this.certs = makeCerts();
    this.server = createServer(
      { cert: readFileSync(this.certs.serverCert), key: readFileSync(this.certs.serverKey) },
      (req, res) => void this.handle(req, res),
    );
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Writes a kubeconfig for this server into `dir` and returns its path. */
  kubeconfig(dir: string, token = this.token): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster:\n    server: ${this.url}\n    certificate-authority: ${this.certs.ca}`,
        'users:',
        `- name: peregrine\n  user:\n    token: ${token}`,
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: peregrine',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.dropWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls -------------------------------------------------------------------------

  /** Accepts only this bearer token from now on (others get 401). */
  setToken(token: string): void {
    this.token = token;
  }

  /** Answers 403 to `verb` on `resource` (plural, e.g. `pods`); `allow` undoes it. */
  forbid(verb: Verb, resource: string): void {
    this.forbidden.add(`${verb} ${resource}`);
  }

  allow(verb: Verb, resource: string): void {
    this.forbidden.delete(`${verb} ${resource}`);
  }

  /** The next `count` requests matching get `status` (500, 503, 429…) instead of an answer. */
  failNext(
    count: number,
    status: number,
    match: (r: { verb: string; resource: string }) => boolean = () => true,
  ): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, match });
  }

  /** While true, watch requests get no response at all (an overloaded or wedged API server). */
  stallWatches = false;
  /** While true, every other request gets no response at all. */
  stallRequests = false;

  /** Ends every open watch, as a restarting API server or a broken connection does. */
  dropWatches(): void {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  /** Forgets the change history, as etcd compaction does: watches from older versions get `410 Gone`. */
  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }

  /** The current resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Open watch connections (tests check a client holds one, not many). */
  get openWatches(): number {
    return this.watches.size;
  }

  /** Stores an object as it is given (uid included, when set), as if created through the API. */
  put(obj: Record<string, unknown>): Obj {
    const o = structuredClone(obj) as Obj;
    const type = this.typeOf(o);
    const key = this.key(type, o.metadata.namespace, o.metadata.name);
    const prev = this.store.get(key);
    o.metadata.uid ??= prev?.metadata.uid ?? randomUUID();
    (o.metadata as Record<string, unknown>).creationTimestamp ??= new Date().toISOString();
    this.commit(type, key, o, prev ? 'MODIFIED' : 'ADDED', prev);
    return structuredClone(o);
  }

  /** The stored object, or undefined. */
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const type = RESOURCES.find((r) => r.kind === kind);
    if (!type) throw new Error(`fake API server: unknown kind ${kind}`);
    const o = this.store.get(this.key(type, namespace, name));
    return o && structuredClone(o);
  }

  /** Every stored object of a kind (in a namespace). */
  list(kind: string, namespace?: string): Obj[] {
    const type = RESOURCES.find((r) => r.kind === kind);
    if (!type) throw new Error(`fake API server: unknown kind ${kind}`);
    return [...this.store.entries()]
      .filter(
        ([k, o]) => k.startsWith(`${type.group}/${type.plural}/`) && (!namespace || o.metadata.namespace === namespace),
      )
      .map(([, o]) => structuredClone(o));
  }

  /** Removes an object at once (a pod whose kubelet confirmed its end). */
  remove(kind: string, namespace: string | undefined, name: string): boolean {
    const type = RESOURCES.find((r) => r.kind === kind);
    if (!type) throw new Error(`fake API server: unknown kind ${kind}`);
    const key = this.key(type, namespace, name);
    const prev = this.store.get(key);
    if (!prev) return false;
    this.commit(type, key, prev, 'DELETED', prev);
    return true;
  }

  // ---- storage -------------------------------------------------------------------------------

  private typeOf(o: Record<string, unknown>): ResourceType {
    const type = RESOURCES.find((r) => r.kind === o.kind);
    if (!type) throw new Error(`fake API server: unknown kind ${String(o.kind)}`);
    return type;
  }

  private key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.group}/${type.plural}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  /** Stores (or deletes) one object at a new resourceVersion and tells the watches. */
  private commit(type: ResourceType, key: string, obj: Obj, change: Change['type'], prev?: Obj): Obj {
    this.rv++;
    const o = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } } as Obj;
    o.apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
    o.kind = type.kind;
    if (change === 'DELETED') this.store.delete(key);
    else this.store.set(key, o);
    const c: Change = { rv: this.rv, type: change, resource: type, obj: o, prev };
    this.history.push(c);
    if (this.history.length > (this.opts.historyMax ?? 1000)) this.compactedRv = this.history.shift()!.rv;
    for (const w of this.watches) this.deliver(w, c);
    return o;
  }

  /** Sends a change to a watch as the API server would: moving out of its selector is DELETED, into it ADDED. */
  private deliver(w: OpenWatch, c: Change): void {
    if (w.resource !== c.resource) return;
    if (w.namespace && c.obj.metadata.namespace !== w.namespace) return;
    const now = w.matches(c.obj);
    const before = c.prev !== undefined && w.matches(c.prev);
    let type: Change['type'] | undefined = c.type;
    if (c.type === 'MODIFIED') type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
    else if (!now) type = undefined;
    if (type) w.res.write(`${JSON.stringify({ type, object: c.obj })}\n`);
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const record = (r: Omit<RecordedRequest, 'path' | 'query'>): void => {
      if (this.requests.length < 100_000) this.requests.push({ ...r, path: url.pathname, query });
    };
    let route: ReturnType<FakeApiServer['route']> | undefined;
    try {
      route = this.route(req.method ?? 'GET', url);
      const body = await readBody(req);
      if (req.headers.authorization !== `Bearer ${this.token}`)
        throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      const verb = route.verb === 'evict' ? 'create' : route.verb;
      const resource = route.verb === 'evict' ? 'pods/eviction' : route.type.plural;
      if (this.forbidden.has(`${verb} ${resource}`))
        throw new HttpError(
          403,
          'Forbidden',
          `${resource} is forbidden: User "system:serviceaccount:peregrine:peregrine" cannot ${verb} resource "${resource}" in API group "${route.type.group}"${route.namespace ? ` in the namespace "${route.namespace}"` : ' at the cluster scope'}`,
        );
      const failure = this.failures.findIndex((f) => f.match({ verb, resource }));
      if (failure >= 0) {
        const { status } = this.failures.splice(failure, 1)[0];
        throw new HttpError(status, status === 429 ? 'TooManyRequests' : 'InternalError', `injected failure ${status}`);
      }
      record({ verb: route.verb, resource, namespace: route.namespace, name: route.name, status: 200, body });
      if (this.stallRequests && route.verb !== 'watch') return;
      await this.serve(route, url, body, req, res);
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : err instanceof SelectorError
            ? new HttpError(400, 'BadRequest', err.message)
            : err instanceof PatchError
              ? new HttpError(err.status, err.status === 422 ? 'Invalid' : 'BadRequest', err.message)
              : new HttpError(500, 'InternalError', err instanceof Error ? err.message : String(err));
      if (route)
        record({
          verb: route.verb,
          resource: route.type.plural,
          namespace: route.namespace,
          name: route.name,
          status: e.status,
        });
      if (!res.headersSent) sendStatus(res, e.status, e.reason, e.message);
      else res.end();
    }
  }

  private route(
    method: string,
    url: URL,
  ): { verb: Verb | 'evict'; type: ResourceType; namespace?: string; name?: string } {
    const seg = url.pathname.split('/').filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (seg[0] === 'api') [group, version, rest] = ['', seg[1], seg.slice(2)];
    else if (seg[0] === 'apis') [group, version, rest] = [seg[1], seg[2], seg.slice(3)];
    else throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
    const [plural, name, sub] = rest;
    const type = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
    if (!type || (sub && !(plural === 'pods' && sub === 'eviction')))
      throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    if (namespace && !type.namespaced) throw new HttpError(404, 'NotFound', `${plural} is not namespaced`);
    const watch = url.searchParams.get('watch');
    const verb: Verb | 'evict' =
      sub === 'eviction' && method === 'POST'
        ? 'evict'
        : method === 'GET'
          ? name
            ? 'get'
            : watch === 'true' || watch === '1'
              ? 'watch'
              : 'list'
          : method === 'POST' && !name
            ? 'create'
            : method === 'PUT' && name
              ? 'update'
              : method === 'PATCH' && name
                ? 'patch'
                : method === 'DELETE' && name
                  ? 'delete'
                  : (() => {
                      throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported here`);
                    })();
    return { verb, type, namespace, name };
  }

  private async serve(
    route: { verb: Verb | 'evict'; type: ResourceType; namespace?: string; name?: string },
    url: URL,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { type, namespace } = route;
    const name = route.name ?? '';
    const key = this.key(type, namespace, name);
    const notFound = (): HttpError =>
      new HttpError(404, 'NotFound', `${type.plural}${type.group ? `.${type.group}` : ''} "${name}" not found`);
    switch (route.verb) {
      case 'list': {
        const matches = this.matcher(type, url);
        const items = [...this.store.entries()]
          .filter(([k]) =>
            k.startsWith(`${type.group}/${type.plural}/${namespace !== undefined ? `${namespace}/` : ''}`),
          )
          .map(([, o]) => o)
          .filter(matches)
          .map(({ kind: _k, apiVersion: _a, ...item }) => item);
        return sendJson(res, 200, {
          kind: `${type.kind}List`,
          apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      case 'watch':
        return this.watch(type, namespace, url, req, res);
      case 'get': {
        const o = this.store.get(key);
        if (!o) throw notFound();
        return sendJson(res, 200, o);
      }
      case 'create': {
        const o = validObject(body, type, namespace);
        if (!o.metadata.name && typeof o.metadata.generateName === 'string')
          o.metadata.name = `${o.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
        if (!o.metadata.name)
          throw new HttpError(422, 'Invalid', `${type.kind} is invalid: metadata.name: Required value`);
        const k = this.key(type, namespace, o.metadata.name);
        if (this.store.has(k))
          throw new HttpError(409, 'AlreadyExists', `${type.plural} "${o.metadata.name}" already exists`);
        o.metadata.uid = randomUUID();
        (o.metadata as Record<string, unknown>).creationTimestamp = new Date().toISOString();
        return sendJson(res, 201, this.commit(type, k, o, 'ADDED'));
      }
      case 'update': {
        const prev = this.store.get(key);
        if (!prev) throw notFound();
        const o = validObject(body, type, namespace);
        if (o.metadata.name !== name)
          throw new HttpError(400, 'BadRequest', 'the name of the object does not match the URL');
        this.checkVersion(prev, o.metadata.resourceVersion, name, type);
        o.metadata.uid = prev.metadata.uid;
        return sendJson(res, 200, this.commit(type, key, o, 'MODIFIED', prev));
      }
      case 'patch': {
        const prev = this.store.get(key);
        if (!prev) throw notFound();
        const ct = (req.headers['content-type'] ?? '').split(';')[0].trim();
        const patched =
          ct === 'application/json-patch+json'
            ? jsonPatch(prev, body)
            : ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json'
              ? mergePatch(prev, body)
              : (() => {
                  throw new HttpError(
                    415,
                    'UnsupportedMediaType',
                    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${ct || 'none'})`,
                  );
                })();
        const o = patched as Obj;
        const sentVersion = (body as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
        if (ct !== 'application/json-patch+json') this.checkVersion(prev, sentVersion, name, type);
        o.metadata = {
          ...o.metadata,
          name: prev.metadata.name,
          namespace: prev.metadata.namespace,
          uid: prev.metadata.uid,
        };
        return sendJson(res, 200, this.commit(type, key, o, 'MODIFIED', prev));
      }
      case 'delete': {
        const prev = this.store.get(key);
        if (!prev) throw notFound();
        const opts = (body ?? {}) as { gracePeriodSeconds?: number; preconditions?: { uid?: string } };
        if (opts.preconditions?.uid && opts.preconditions.uid !== prev.metadata.uid)
          throw new HttpError(
            409,
            'Conflict',
            `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${prev.metadata.uid}`,
          );
        const q = url.searchParams.get('gracePeriodSeconds');
        const grace = q !== null ? Number(q) : (opts.gracePeriodSeconds ?? (type.plural === 'pods' ? 30 : 0));
        return sendJson(res, 200, this.deleteObject(type, key, prev, grace));
      }
      case 'evict': {
        const pod = this.store.get(key);
        if (!pod) throw notFound();
        const pdb = this.list('PodDisruptionBudget', namespace).find((b) => {
          const sel =
            (b.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels ??
            {};
          return Object.entries(sel).every(([k, v]) => pod.metadata.labels?.[k] === v);
        });
        const allowed = (pdb?.status as { disruptionsAllowed?: number } | undefined)?.disruptionsAllowed;
        if (pdb && (allowed ?? 0) <= 0)
          throw new HttpError(
            429,
            'TooManyRequests',
            "Cannot evict pod as it would violate the pod's disruption budget.",
          );
        if (pdb) this.put({ ...pdb, status: { ...(pdb.status as object), disruptionsAllowed: (allowed ?? 1) - 1 } });
        const grace =
          (body as { deleteOptions?: { gracePeriodSeconds?: number } } | null)?.deleteOptions?.gracePeriodSeconds ?? 30;
        this.deleteObject(type, key, pod, grace);
        return sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      }
    }
  }

  /** Deletes at once, or (a pod with a grace period) marks it terminating and deletes it after the sped-up grace. */
  private deleteObject(type: ResourceType, key: string, prev: Obj, grace: number): Obj {
    if (type.plural !== 'pods' || grace <= 0) {
      this.commit(type, key, prev, 'DELETED', prev);
      return prev;
    }
    const marked = this.commit(
      type,
      key,
      {
        ...prev,
        metadata: {
          ...prev.metadata,
          deletionTimestamp: new Date(Date.now() + grace * 1000).toISOString(),
          deletionGracePeriodSeconds: grace,
        },
      },
      'MODIFIED',
      prev,
    );
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        const now = this.store.get(key);
        if (now && now.metadata.uid === prev.metadata.uid) this.commit(type, key, now, 'DELETED', now);
      },
      grace * 1000 * (this.opts.graceScale ?? 0.001),
    );
    this.timers.add(t);
    return marked;
  }

  private checkVersion(prev: Obj, sent: string | undefined, name: string, type: ResourceType): void {
    if (sent && sent !== prev.metadata.resourceVersion)
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
  }

  private matcher(type: ResourceType, url: URL): (o: Obj) => boolean {
    const f = fieldSelector(url.searchParams.get('fieldSelector'), [
      'metadata.name',
      'metadata.namespace',
      ...(type.fields ?? []),
    ]);
    const l = labelSelector(url.searchParams.get('labelSelector'));
    return (o) => f(o) && l(o);
  }

  private watch(
    type: ResourceType,
    namespace: string | undefined,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const matches = this.matcher(type, url);
    const from = url.searchParams.get('resourceVersion') ?? '';
    if (this.stallWatches) return;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: OpenWatch = {
      resource: type,
      namespace,
      matches,
      res,
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
    };
    if (from === '' || from === '0') {
      // "start at most recent": the current state as ADDED events, then changes
      for (const [k, o] of this.store)
        if (
          k.startsWith(`${type.group}/${type.plural}/`) &&
          (!namespace || o.metadata.namespace === namespace) &&
          matches(o)
        )
          res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < this.compactedRv) {
        const msg = `too old resource version: ${from} (${this.compactedRv})`;
        res.end(`${JSON.stringify({ type: 'ERROR', object: statusObject(410, 'Expired', msg) })}\n`);
        return;
      }
      for (const c of this.history) if (c.rv > rv) this.deliver(w, c);
    }
    this.watches.add(w);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '1800');
    const end = setTimeout(() => res.end(), timeout * 1000);
    const bookmark = w.bookmarks
      ? setInterval(() => {
          res.write(
            `${JSON.stringify({
              type: 'BOOKMARK',
              object: {
                kind: type.kind,
                apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
                metadata: { resourceVersion: String(this.rv) },
              },
            })}\n`,
          );
        }, this.opts.bookmarkMs ?? 1000)
      : undefined;
    const close = (): void => {
      clearTimeout(end);
      clearInterval(bookmark);
      this.watches.delete(w);
    };
    res.on('close', close);
    req.on('close', close);
  }
}

function statusObject(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, statusObject(code, reason, message));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request body as JSON (undefined when empty); 3 MiB at most, as kube-apiserver's limit. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 3 * 1024 * 1024) throw new HttpError(413, 'RequestEntityTooLarge', 'request entity too large');
    chunks.push(c);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BadRequest', 'the body of the request is not JSON');
  }
}

/** A create or update body: an object of this kind whose namespace agrees with the URL. */
function validObject(body: unknown, type: ResourceType, namespace: string | undefined): Obj {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'BadRequest', 'the body of the request is not an object');
  const o = structuredClone(body) as Obj;
  o.metadata = { ...(o.metadata ?? {}) };
  if (o.kind !== undefined && o.kind !== type.kind)
    throw new HttpError(400, 'BadRequest', `the kind of the object (${JSON.stringify(o.kind)}) is not ${type.kind}`);
  if (type.namespaced) {
    if (o.metadata.namespace && o.metadata.namespace !== namespace)
      throw new HttpError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    o.metadata.namespace = namespace;
  }
  return o;
}
