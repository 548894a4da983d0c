import type { EventSource, SourceBatch } from '../../src/sources/index.js';
import type { Alert, SyscallEvent } from '../../src/event/index.js';

/** Polls `cond` every 20 ms; fails after `ms`. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls an async `cond` every 50 ms; fails after `ms`. */
export async function untilAsync(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads a source's batches until `n` events or alerts arrived; fails after `ms` with its stats. */
export async function collect(src: EventSource, n: number, ms = 10_000): Promise<Array<SyscallEvent | Alert>> {
  const out: Array<SyscallEvent | Alert> = [];
  const it = src.batches()[Symbol.asyncIterator]();
  const end = Date.now() + ms;
  while (out.length < n) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`timed out with ${out.length}/${n}; stats ${JSON.stringify(src.stats)}`);
    const r = await Promise.race([
      it.next(),
      new Promise<IteratorResult<SourceBatch>>((res) => setTimeout(() => res({ done: true, value: undefined }), left)),
    ]);
    if (!r.done) out.push(...(r.value.kind === 'events' ? r.value.events : r.value.alerts));
  }
  return out;
}
