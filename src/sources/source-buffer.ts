import type { SourceBatch } from './event-source.js';

/**
 * The bounded buffer between a source and the pipeline, measured in events/alerts.
 * `offer` returns false when the batch does not fit (the caller pauses its transport or
 * refuses the input, and counts it); `full` tells producers that can pause to do so.
 * One consumer reads with the async iterator; `close()` ends it after the queued batches.
 */
/** What a full buffer does: pause the producer, drop the oldest queued batch, or drop the new one. */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest';

export class SourceBuffer implements AsyncIterable<SourceBatch> {
  private readonly queue: SourceBatch[] = [];
  private size = 0;
  private closed = false;
  private waiter: ((v: IteratorResult<SourceBatch>) => void) | undefined;
  private readonly drainListeners: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  /**
   * Queues a batch under a drop policy: `drop-newest` refuses it when it does not fit,
   * `drop-oldest` evicts queued batches to make room. Returns how many items were dropped.
   */
  push(b: SourceBatch, policy: Exclude<OverflowPolicy, 'block'>): number {
    if (this.offer(b)) return 0;
    if (this.closed) return count(b);
    if (policy === 'drop-newest') return count(b);
    let dropped = 0;
    while (this.queue.length && this.size + count(b) > this.capacity) {
      const old = this.queue.shift()!;
      this.size -= count(old);
      dropped += count(old);
    }
    return this.offer(b) ? dropped : dropped + count(b);
  }

  get queued(): number {
    return this.size;
  }

  /** True when producers should pause. */
  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Queues a batch if it fits (a batch larger than the whole buffer fits only when empty). */
  offer(b: SourceBatch): boolean {
    if (this.closed) return false;
    const n = count(b);
    if (this.size > 0 && this.size + n > this.capacity) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: b, done: false });
      return true;
    }
    this.queue.push(b);
    this.size += n;
    return true;
  }

  /** Calls `fn` once when the buffer drops to half capacity (to resume a paused producer). */
  onDrain(fn: () => void): void {
    if (this.size <= this.capacity / 2) fn();
    else this.drainListeners.push(fn);
  }

  close(): void {
    this.closed = true;
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SourceBatch> {
    return {
      next: () => {
        const b = this.queue.shift();
        if (b) {
          this.size -= count(b);
          if (this.size <= this.capacity / 2 && this.drainListeners.length) {
            for (const fn of this.drainListeners.splice(0)) fn();
          }
          return Promise.resolve({ value: b, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
    };
  }
}

function count(b: SourceBatch): number {
  return b.kind === 'events' ? b.events.length : b.alerts.length;
}
