import type { Alert } from '../event/index.js';
import type { AlertSink } from './alert-sink.js';
import { alertIdentity } from './formats/index.js';

/** Output fields a folded follow-up carries (and message formats show). */
export const REPEAT_FIELDS = { count: 'peregrine.repeat_count', first: 'peregrine.first_seen', last: 'peregrine.last_seen' } as const;

interface Window {
  first: Alert;
  last: Alert;
  count: number;
  timer: NodeJS.Timeout;
}

/** Identities tracked at once; beyond this, new identities pass through unfolded (counted). */
const MAX_WINDOWS = 10_000;

/**
 * Wraps a sink against alert fatigue: per rule × workload × node, the first alert goes out at
 * once; repeats within `windowMs` are folded into one follow-up carrying the count and the
 * first/last seen times (sent when the window closes). Bounded; `flush` sends pending follow-ups.
 */
export class FoldingSink implements AlertSink {
  readonly name: string;
  /** Alerts folded away (not sent individually). */
  folded = 0;
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly inner: AlertSink,
    private readonly windowMs: number,
  ) {
    this.name = inner.name;
  }

  write(alert: Alert): void {
    const key = alertIdentity(alert);
    const w = this.windows.get(key);
    if (w) {
      w.count++;
      w.last = alert;
      this.folded++;
      return;
    }
    this.inner.write(alert);
    if (this.windows.size >= MAX_WINDOWS) return;
    const timer = setTimeout(() => this.close1(key), this.windowMs);
    timer.unref();
    this.windows.set(key, { first: alert, last: alert, count: 0, timer });
  }

  private close1(key: string): void {
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

  async flush(): Promise<void> {
    for (const key of [...this.windows.keys()]) this.close1(key);
    await this.inner.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.inner.close();
  }
}
