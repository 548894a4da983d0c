import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
  }

  private serve(sock: Socket): void {
    let buf = '';
    sock.setTimeout(5_000, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.length > 4096) return void sock.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      void this.answer(buf.slice(0, nl)).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
    });
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
