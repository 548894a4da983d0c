import http from 'node:http';
import net from 'node:net';

/** A request a receiver got. */
export interface Received {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/** How a receiver answers: status (default 200), headers, delay. */
export type Answer = { status?: number; headers?: Record<string, string>; delayMs?: number } | undefined;

/**
 * A real HTTP receiver on loopback (Slack, PagerDuty, webhook stand-ins). `answer` decides the
 * reply per request; `received` holds every request in arrival order; `maxConcurrent` the most
 * requests open at once. `listen(port)` can start it on a port chosen before (a receiver that
 * comes back), `stop()` closes it and its connections.
 */
export class HttpReceiver {
  readonly received: Received[] = [];
  maxConcurrent = 0;
  private open = 0;
  /** Requests seen so far (the `n` given to `answer`). */
  private requests = 0;
  private server: http.Server | undefined;
  port = 0;

  constructor(private answer: (r: Received, n: number) => Answer = () => undefined) {}

  /** Changes how later requests are answered. */
  answerWith(answer: (r: Received, n: number) => Answer): void {
    this.answer = answer;
  }

  async listen(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.maxConcurrent = Math.max(this.maxConcurrent, ++this.open);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '', headers: req.headers, body, at: Date.now() };
        const a = this.answer(r, this.requests++) ?? {};
        const reply = (): void => {
          this.open--;
          if ((a.status ?? 200) < 300) this.received.push(r);
          else this.rejected.push(r);
          res.writeHead(a.status ?? 200, a.headers).end('{}');
        };
        if (a.delayMs) setTimeout(reply, a.delayMs);
        else reply();
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Requests answered with a status ≥ 300. */
  readonly rejected: Received[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Bodies of accepted requests, parsed. */
  bodies<T = Record<string, unknown>>(): T[] {
    return this.received.map((r) => JSON.parse(r.body) as T);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r) ?? r(undefined));
  }
}

/** A loopback port nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
