import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FieldKeyTable } from '../src/event/index.js';
import { PeregrineSensorSource, TetragonSource, type EventSource } from '../src/sources/index.js';

/** Starts the bench server child; resolves to its address and a kill function. */
function startServer(kind: string, count: number): Promise<{ address: string; kill: () => void }> {
  const child = fork(fileURLToPath(new URL('./bench-server.js', import.meta.url)), [kind, String(count)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
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

/** Events/s from a local gRPC server through a source into decoded engine events. */
async function measure(src: EventSource, total: number): Promise<number> {
  await src.start();
  let n = 0;
  let t0 = 0;
  for await (const b of src.batches()) {
    if (t0 === 0) t0 = performance.now();
    n += b.kind === 'events' ? b.events.length : 0;
    if (n >= total) break;
  }
  const secs = (performance.now() - t0) / 1000;
  await src.shutdown();
  return Math.round(n / secs);
}

export async function sourcesSuite(): Promise<Record<string, number>> {
  const sensorEvents = 1_000_000;
  const s = await startServer('sensor', sensorEvents);
  const sensorBatchEventsPerSec = await measure(new PeregrineSensorSource({ address: s.address, bufferEvents: 1 << 20 }, new FieldKeyTable()), sensorEvents - 512);
  s.kill();
  const tetragonEvents = 200_000;
  const t = await startServer('tetragon', tetragonEvents);
  const tetragonEventsPerSec = await measure(new TetragonSource({ address: t.address, bufferEvents: 1 << 20 }, new FieldKeyTable()), tetragonEvents - 256);
  t.kill();
  return { sensorBatchEventsPerSec, tetragonEventsPerSec, sensorEvents, tetragonEvents };
}
