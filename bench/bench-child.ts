import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A bench child: its address, a kill, and a request/response over IPC. */
export interface BenchChild {
  readonly address: string;
  kill(): void;
  ask<T>(): Promise<T>;
}

/** Starts a bench child (default bench-server.js) in its own process (its own core); resolves once it prints `LISTENING <address>`. */
export function startBenchServer(args: readonly string[], script = './bench-server.js'): Promise<BenchChild> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\S+)/.exec(out);
      if (m) {
        resolve({
          address: m[1],
          kill: () => child.kill(),
          ask: <T>() =>
            new Promise<T>((res) => {
              child.once('message', (msg) => res(msg as T));
              child.send({});
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}
