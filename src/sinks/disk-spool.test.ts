import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiskSpool, SpoolError } from './disk-spool.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'spool-'));
const rec = (i: number): string => JSON.stringify({ i, pad: 'x'.repeat(90) });
const drain = (s: DiskSpool): string[] => {
  const out: string[] = [];
  for (let r = s.shift(); r !== undefined; r = s.shift()) out.push(r);
  return out;
};

describe('DiskSpool', () => {
  it('is first in, first out across segments, and deletes segments it has read', () => {
    const d = dir();
    const s = DiskSpool.open(d, { maxBytes: 1 << 20, segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) s.append([rec(i)]);
    s.flush();
    expect(readdirSync(d).filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThan(3);
    expect(s.size).toBe(200);
    const first = [s.shift(), s.shift()];
    expect(first).toEqual([rec(0), rec(1)]);
    s.append([rec(200)]); // appended while being read
    expect(drain(s)).toEqual(Array.from({ length: 199 }, (_, i) => rec(i + 2)));
    expect(s.size).toBe(0);
    expect(readdirSync(d).filter((f) => f.endsWith('.jsonl')).length).toBe(1);
    s.close();
  });

  it('survives a restart: unread records are read after reopening, read ones are not', () => {
    const d = dir();
    const a = DiskSpool.open(d, { maxBytes: 1 << 20, segmentBytes: 4096 });
    a.append(Array.from({ length: 100 }, (_, i) => rec(i)));
    for (let i = 0; i < 30; i++) a.shift();
    a.close();
    const b = DiskSpool.open(d, { maxBytes: 1 << 20, segmentBytes: 4096 });
    expect(b.size).toBe(70);
    b.append([rec(100)]);
    expect(drain(b)).toEqual(Array.from({ length: 71 }, (_, i) => rec(i + 30)));
    b.close();
    const c = DiskSpool.open(d, { maxBytes: 1 << 20 });
    expect(c.size).toBe(0);
    expect(c.shift()).toBeUndefined();
    c.close();
    expect(readdirSync(d).filter((f) => f.endsWith('.jsonl')).length).toBe(1); // empty segments of earlier runs are removed
  });

  it('killed without close: re-reads from the last saved position (duplicates, never gaps)', () => {
    const d = dir();
    const a = DiskSpool.open(d, { maxBytes: 1 << 20 });
    a.append(Array.from({ length: 10 }, (_, i) => rec(i)));
    a.flush();
    a.shift();
    a.shift(); // read, position not saved yet (saved at most once a second)
    const b = DiskSpool.open(d, { maxBytes: 1 << 20 });
    expect(drain(b)).toEqual(Array.from({ length: 10 }, (_, i) => rec(i)));
    b.close();
  });

  it('when full, deletes the oldest segments and counts their records as dropped', () => {
    const d = dir();
    let dropped = 0;
    const s = DiskSpool.open(d, { maxBytes: 64 * 1024, segmentBytes: 8192, onDrop: (n) => (dropped += n) });
    for (let i = 0; i < 2000; i++) s.append([rec(i)]); // ~200 KB into 64 KB
    s.flush();
    expect(s.bytes).toBeLessThanOrEqual(64 * 1024);
    const left = drain(s);
    expect(dropped + left.length).toBe(2000);
    expect(dropped).toBeGreaterThan(1000);
    expect(left.at(-1)).toBe(rec(1999)); // the newest are kept
    expect(left[0]).toBe(rec(dropped)); // ... and nothing in between is missing
    s.close();
  });

  it('a torn last line (a crash mid-write) stays one record; the next run writes a segment of its own', () => {
    const d = dir();
    const a = DiskSpool.open(d, { maxBytes: 1 << 20 });
    a.append([rec(1)]);
    a.close();
    appendFileSync(
      join(
        d,
        readdirSync(d).find((f) => f.endsWith('.jsonl') && f !== '0000000002.jsonl')!,
      ),
      '{"i": 2, "pa',
    );
    const b = DiskSpool.open(d, { maxBytes: 1 << 20 });
    b.append([rec(3)]);
    expect(drain(b)).toEqual([rec(1), '{"i": 2, "pa', rec(3)]);
    b.close();
  });

  it('an I/O error loses only the records it touched, counted; the spool goes on in a new segment', () => {
    const d = dir();
    const drops: Array<[number, string]> = [];
    const s = DiskSpool.open(d, { maxBytes: 1 << 20, onDrop: (n, reason) => void drops.push([n, reason]) });
    s.append([rec(1)]);
    s.flush();
    expect(s.shift()).toBe(rec(1));
    const seg = readdirSync(d).find((f) => f.endsWith('.jsonl'))!;
    rmSync(join(d, seg));
    mkdirSync(join(d, seg)); // the segment being written can no longer be written
    s.append([rec(2), rec(3)]);
    expect(() => s.flush()).not.toThrow();
    expect(drops).toEqual([[2, 'spool_io_error']]);
    s.append([rec(4)]);
    expect(drain(s)).toEqual([rec(4)]);
    expect(s.size).toBe(0);
    s.close();
    s.append([rec(5)]); // after close: counted, never thrown
    expect(drops.at(-1)).toEqual([1, 'spool_io_error']);
  });

  it('a directory that cannot be used is a SpoolError saying what to do', () => {
    const file = join(dir(), 'not-a-dir');
    writeFileSync(file, '');
    expect(() => DiskSpool.open(join(file, 'x'), { maxBytes: 1 << 20 })).toThrow(SpoolError);
    expect(() => DiskSpool.open(join(file, 'x'), { maxBytes: 1 << 20 })).toThrow(
      /spool directory .*not-a-dir\/x: ENOTDIR; make it writable .* or disable spooling for this sink \(spool: false\)/,
    );
  });

  it('property: any mix of appends, reads, flushes and restarts reads back exactly what was appended, in order', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant('flush' as const) }),
      fc.record({ kind: fc.constant('restart' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const d = dir();
        const opts = { maxBytes: 1 << 22, segmentBytes: 4096 };
        let s = DiskSpool.open(d, opts);
        const model: string[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'append') {
            const batch = Array.from({ length: o.n }, () => rec(next++));
            s.append(batch);
            model.push(...batch);
          } else if (o.kind === 'shift') {
            for (let i = 0; i < o.n; i++) expect(s.shift()).toBe(model.shift());
          } else if (o.kind === 'flush') s.flush();
          else {
            s.close();
            s = DiskSpool.open(d, opts);
          }
          expect(s.size).toBe(model.length);
        }
        expect(drain(s)).toEqual(model);
        s.close();
        rmSync(d, { recursive: true });
      }),
      { numRuns: 60 },
    );
  });
});
