import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts bench-server.js in a child process (its own core); resolves to its address and a kill. */
export function startBenchServer(args: readonly string[]): Promise<{ address: string; kill: () => void }> {
  const child = fork(fileURLToPath(new URL('./bench-server.js', import.meta.url)), [...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve({ address: m[1], kill: () => child.kill() });
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}
