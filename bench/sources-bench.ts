import { startBenchServer } from './bench-child.js';
import { FieldKeyTable } from '../src/event/index.js';
import { PeregrineSensorSource, TetragonSource, type EventSource } from '../src/sources/index.js';

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

/** Median of three runs, each against a fresh server child. */
async function median(
  kind: string,
  count: number,
  make: (address: string) => EventSource,
  expect: number,
): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const srv = await startBenchServer([kind, String(count)]);
    runs.push(await measure(make(srv.address), expect));
    srv.kill();
  }
  return runs.sort((a, b) => a - b)[1];
}

export async function sourcesSuite(): Promise<Record<string, number>> {
  const sensorEvents = 1_000_000;
  const table = new FieldKeyTable();
  const sensorBatchEventsPerSec = await median(
    'sensor',
    sensorEvents,
    (a) => new PeregrineSensorSource({ address: a, bufferEvents: 1 << 20 }, table),
    sensorEvents - 1024,
  );
  const tetragonEvents = 200_000;
  const tetragonEventsPerSec = await median(
    'tetragon',
    tetragonEvents,
    (a) => new TetragonSource({ address: a, bufferEvents: 1 << 20 }, table),
    tetragonEvents - 256,
  );
  return { sensorBatchEventsPerSec, tetragonEventsPerSec, sensorEvents, tetragonEvents };
}
