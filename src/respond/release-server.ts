import { chmodSync, existsSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { errorMessage } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';
import type { PodIsolations } from './pod-isolations.js';

/**
 * The agent's local control socket for responses (a unix socket, mode 0600: root on the node
 * only). One JSON request per line — `{"op":"release","pod":"NS/NAME"}` or `{"op":"list"}` —
 * answered by one JSON line. Requests are bounded (4 KiB) and connections time out (5 s).
 */
export class ReleaseServer {
  private server: Server | undefined;

  constructor(
    private readonly path: string,
    private readonly isolations: PodIsolations,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o750 });
    if (existsSync(this.path)) unlinkSync(this.path); // a stale socket of an agent that died
    const server = (this.server = createServer((sock) => this.serve(sock)));
    server.maxConnections = 16;
    // bound under a temporary name, made 0600, then moved into place: never reachable with wider modes
    const tmp = `${this.path}.${process.pid}.tmp`;
    if (existsSync(tmp)) unlinkSync(tmp);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => resolve());
    });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }

  private serve(sock: Socket): void {
    let buf = '';
    sock.setTimeout(5_000, () => sock.destroy());
    sock.on('error', () => undefined);
    // one request per connection: after it (or after too much), nothing more is read
    const reply = (r: Record<string, unknown>): void => {
      sock.removeListener('data', onData);
      sock.pause();
      sock.end(`${JSON.stringify(r)}\n`);
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length <= 4096) return;
      if (nl < 0 || nl > 4096) return reply({ ok: false, error: 'request too large (at most 4 KiB)' });
      const line = buf.slice(0, nl);
      sock.removeListener('data', onData);
      sock.pause();
      void this.answer(line).then(reply);
    };
    sock.on('data', onData);
  }

  private async answer(line: string): Promise<Record<string, unknown>> {
    try {
      const req = JSON.parse(line) as { op?: unknown; pod?: unknown };
      if (req.op === 'list') return { ok: true, isolations: this.isolations.list() };
      if (req.op === 'release' && typeof req.pod === 'string' && /^[^/\s]+\/[^/\s]+$/.test(req.pod)) {
        const [ns, name] = req.pod.split('/');
        const released = await this.isolations.release(ns, name, 'released by peregrine responses release');
        return released
          ? { ok: true, released: req.pod }
          : { ok: false, error: `pod ${req.pod} is not isolated by this agent` };
      }
      return { ok: false, error: 'unknown request: {"op":"release","pod":"NAMESPACE/NAME"} or {"op":"list"}' };
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'responses socket: a bad request');
      return { ok: false, error: `bad request: ${errorMessage(err)}` };
    }
  }

  async shutdown(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }
}

/** Sends one request to an agent's responses socket; resolves with its answer. */
export function askAgent(path: string, request: object, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new Error(`no answer from the agent on ${path} within ${timeoutMs} ms`));
    });
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    sock.on('end', () => {
      try {
        resolve(JSON.parse(buf) as Record<string, unknown>);
      } catch {
        reject(new Error(`the agent on ${path} answered something that is not JSON`));
      }
    });
    sock.on('error', (err) => reject(new Error(`cannot reach the agent on ${path}: ${errorMessage(err)}`)));
  });
}
