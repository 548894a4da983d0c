/**
 * The pending cache: events whose container the runtime does not know yet wait, bounded in time,
 * count and bytes, while the rest of the stream goes on. The enrich stage here is a small
 * in-memory one (the real one, over a real containerd, is in k8s-runtime.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { FieldKeyTable, FlatEventDecoder, SyscallEvent } from '../src/event/index.js';
import { PendingEvents, type EnrichStage } from '../src/pipeline/index.js';
import { ManualClock } from './helpers/manual-clock.js';

const table = new FieldKeyTable();
const decoder = new FlatEventDecoder(table);
const event = (cid: string, n: number): SyscallEvent =>
  decoder.decodeLine(JSON.stringify({ 'evt.type': 'openat', 'container.id': cid, 'proc.pid': n }), n);

/** Knows the containers in `known`; `update()` tells the cache more may be known. */
class MapStage implements EnrichStage {
  readonly known = new Map<string, string>();
  private fns: Array<() => void> = [];
  tryEnrich(e: SyscallEvent): SyscallEvent | undefined {
    const cid = e.get(table, 'container.id') as string;
    const pod = this.known.get(cid);
    if (!pod) return undefined;
    const values = e.values.slice();
    values[table.intern('k8s.pod.name')] = pod;
    return new SyscallEvent(values);
  }
  onUpdate(fn: () => void): void {
    this.fns.push(fn);
  }
  update(): void {
    for (const f of this.fns) f();
  }
}

describe('pending events', () => {
  it('an event waits for its container; released enriched as soon as the runtime knows it, in the order held', async () => {
    const stage = new MapStage();
    const clock = new ManualClock();
    const out: Array<[number, unknown]> = [];
    const p = new PendingEvents(
      stage,
      (e) => out.push([e.get(table, 'proc.pid') as number, e.get(table, 'k8s.pod.name')]),
      {},
      clock,
    );
    expect(p.hold(event('aaaaaaaaaaaa', 1), 's')).toBe(true);
    expect(p.hold(event('aaaaaaaaaaaa', 2), 's')).toBe(true);
    await clock.advance(500);
    expect(out).toEqual([]);
    stage.known.set('aaaaaaaaaaaa', 'web-1');
    stage.update();
    expect(out).toEqual([
      [1, 'web-1'],
      [2, 'web-1'],
    ]);
    expect(p.stats).toMatchObject({ resolved: 2, timedOut: 0, held: 0 });
  });

  it('past the wait an event goes on with what is known; the timer stops when nothing is held', async () => {
    const stage = new MapStage();
    const clock = new ManualClock();
    const out: number[] = [];
    const p = new PendingEvents(stage, (e) => out.push(e.get(table, 'proc.pid') as number), { waitMs: 2_000 }, clock);
    p.hold(event('bbbbbbbbbbbb', 1), 's');
    await clock.advance(1_000);
    p.hold(event('bbbbbbbbbbbb', 2), 's');
    await clock.advance(1_000); // the first has waited 2 s
    expect(out).toEqual([1]);
    await clock.advance(1_000);
    expect(out).toEqual([1, 2]);
    expect(p.stats).toMatchObject({ resolved: 0, timedOut: 2, held: 0 });
  });

  it('bounded: past maxEvents (or maxBytes) a new unknown event is not held (counted); flush releases the rest', () => {
    const stage = new MapStage();
    const out: number[] = [];
    const p = new PendingEvents(
      stage,
      (e) => out.push(e.get(table, 'proc.pid') as number),
      { maxEvents: 2 },
      new ManualClock(),
    );
    expect([p.hold(event('c', 1), 's'), p.hold(event('c', 2), 's'), p.hold(event('c', 3), 's')]).toEqual([
      true,
      true,
      false,
    ]);
    const tiny = new PendingEvents(stage, () => {}, { maxBytes: 10 }, new ManualClock());
    expect(tiny.hold(event('c', 4), 's')).toBe(false);
    p.flush();
    expect(out).toEqual([1, 2]);
    expect(p.stats).toMatchObject({ overflow: 1, timedOut: 2, held: 0 });
  });
});
