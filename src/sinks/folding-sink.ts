import type { Alert } from '../event/index.js';
import { NO_OBSERVER, SinkWrapper, type AlertSink, type SinkObserver } from './alert-sink.js';
import { alertIdentity } from './formats/index.js';
import { isResolution } from './resolving-sink.js';

/** Output fields a folded follow-up carries (and message formats show). */
export const REPEAT_FIELDS = { count: 'peregrine.repeat_count', first: 'peregrine.first_seen', last: 'peregrine.last_seen' } as const;

interface Window {
  first: Alert;
  last: Alert;
  count: number;
  timer: NodeJS.Timeout;
}

/** Identities tracked at once; beyond this, new identities pass through unfolded. */
const MAX_WINDOWS = 10_000;

/**
 * Wraps a sink against alert fatigue: per rule × workload × node, the first alert goes out at
 * once; repeats within `windowMs` are folded (counted as `folded`) into one follow-up carrying
 * the count and the first/last seen times, sent when the window closes. Resolutions pass
 * through. Bounded; `flush` and `close` send pending follow-ups first.
 */
export class FoldingSink extends SinkWrapper {
  private readonly windows = new Map<string, Window>();

  constructor(
    inner: AlertSink,
    private readonly windowMs: number,
    private readonly observer: SinkObserver = NO_OBSERVER,
  ) {
    super(inner);
  }

  write(alert: Alert): void {
    if (isResolution(alert)) return this.inner.write(alert);
    const key = alertIdentity(alert);
    const w = this.windows.get(key);
    if (w) {
      w.count++;
      w.last = alert;
      this.observer.outcome(this.name, 'folded', 1);
      return;
    }
    this.inner.write(alert);
    if (this.windows.size >= MAX_WINDOWS) return;
    const timer = setTimeout(() => this.closeWindow(key), this.windowMs);
    timer.unref();
    this.windows.set(key, { first: alert, last: alert, count: 0, timer });
  }

  private closeWindow(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    clearTimeout(w.timer);
    this.windows.delete(key);
    if (w.count === 0) return;
    this.inner.write({
      ...w.last,
      output: `${w.last.output} (repeated ${w.count} times since ${w.first.time})`,
      output_fields: { ...w.last.output_fields, [REPEAT_FIELDS.count]: w.count, [REPEAT_FIELDS.first]: w.first.time, [REPEAT_FIELDS.last]: w.last.time },
    });
  }

  private closeAll(): void {
    for (const key of [...this.windows.keys()]) this.closeWindow(key);
  }

  override flush(): Promise<void> {
    this.closeAll();
    return this.inner.flush();
  }

  override close(deadlineAt?: number): Promise<void> {
    this.closeAll();
    return this.inner.close(deadlineAt);
  }
}
