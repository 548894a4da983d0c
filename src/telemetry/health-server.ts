import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentMetrics } from './agent-metrics.js';
import { settleBy, type Deadline } from '../lifecycle.js';

/** What readiness means: rules loaded and every required source connected. */
export interface Readiness {
  ready(): { ok: boolean; reasons: string[] };
}

/**
 * Serves `/metrics` (Prometheus text format), `/healthz` (alive) and `/readyz` (ready, else 503
 * with the reasons). Lifecycle: `start()` binds, `close()` is idempotent and immediate.
 */
export class HealthServer {
  private server: http.Server | undefined;

  constructor(
    private readonly listen: string,
    private readonly metrics: AgentMetrics,
    private readonly readiness: Readiness,
  ) {}

  get address(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? `${a.address}:${a.port}` : '';
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end();
      });
    });
    // A client that sends its request slowly (or never finishes it) is cut off, not waited for.
    this.server.headersTimeout = 5_000;
    this.server.requestTimeout = 10_000;
    this.server.keepAliveTimeout = 5_000;
    const i = this.listen.lastIndexOf(':');
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e) =>
        reject(new Error(`metrics: cannot listen on ${this.listen}: ${e.message}`, { cause: e })),
      );
      this.server!.listen(Number(this.listen.slice(i + 1)), this.listen.slice(0, i) || '0.0.0.0', resolve);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(body);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else if (path === '/readyz') {
      const r = this.readiness.ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(r.ok ? 'ready\n' : `not ready: ${r.reasons.join('; ')}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('use /metrics, /healthz or /readyz\n');
    }
  }

  /** Stops listening and drops every open connection at once (slow clients included). Idempotent. */
  /** Stops listening and cuts every open connection at once (slow clients included); by `deadline` at the latest. */
  async shutdown(deadline: Deadline): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    s.closeAllConnections();
    await settleBy(closed, deadline);
  }
}
