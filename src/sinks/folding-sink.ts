import type { Alert } from '../event/index.js';
import { NO_OBSERVER, SinkWrapper, type AlertSink, type SinkObserver } from './alert-sink.js';
import { alertIdentity } from './formats/index.js';
import { isResolution } from './resolving-sink.js';
import type { Deadline } from '../lifecycle.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../clock.js';

/** Output fields a folded follow-up carries (and message formats show). */
export const REPEAT_FIELDS = {
  count: 'peregrine.repeat_count',
  first: 'peregrine.first_seen',
  last: 'peregrine.last_seen',
} as const;

interface Window {
  firstTime: string;
  lastTime: string;
  last: Alert;
  /** Approximate bytes `last` holds (counted against the byte budget). */
  bytes: number;
  count: number;
  timer: ClockTimer;
}

/** Identities tracked at once; beyond this, new identities pass through unfolded. */
const MAX_WINDOWS = 10_000;
/** Bytes of alerts held for follow-ups at once; beyond this, new identities pass through unfolded. */
export const MAX_FOLD_BYTES = 16 * 1024 * 1024;

/** About how many bytes an alert holds in memory (its texts; fixed overhead per field). */
export function alertBytes(a: Alert): number {
  let n = 256 + a.rule.length + a.output.length + a.hostname.length + a.time.length;
  for (const t of a.tags) n += 16 + t.length;
  for (const k in a.output_fields) {
    const v = a.output_fields[k];
    n += 32 + k.length + (typeof v === 'string' ? v.length : Array.isArray(v) ? v.join(',').length : 8);
  }
  return n;
}

/**
 * Wraps a sink against alert fatigue: per rule × workload × node, the first alert goes out at
 * once; repeats within `windowMs` are folded (counted as `folded`) into one follow-up carrying
 * the count and the first/last seen times, sent when the window closes. Resolutions pass
 * through. Bounded in count (10,000 identities) and bytes (`maxBytes`): past either, a new
 * identity passes through unfolded, and a repeat whose newer copy does not fit keeps the older
 * copy for its follow-up (the count stays exact). `flush` and `close` send pending follow-ups first.
 */
export class FoldingSink extends SinkWrapper {
  private readonly windows = new Map<string, Window>();
  private bytes = 0;

  constructor(
    inner: AlertSink,
    private readonly windowMs: number,
    private readonly observer: SinkObserver = NO_OBSERVER,
    private readonly maxBytes = MAX_FOLD_BYTES,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    super(inner);
  }

  write(alert: Alert): void {
    if (isResolution(alert)) return this.inner.write(alert);
    const key = alertIdentity(alert);
    const w = this.windows.get(key);
    if (w) {
      w.count++;
      w.lastTime = alert.time;
      const b = alertBytes(alert);
      if (this.bytes - w.bytes + b <= this.maxBytes) {
        this.bytes += b - w.bytes;
        w.last = alert;
        w.bytes = b;
      }
      this.observer.outcome(this.name, 'folded', 1);
      return;
    }
    this.inner.write(alert);
    const b = alertBytes(alert);
    if (this.windows.size >= MAX_WINDOWS || this.bytes + b > this.maxBytes) return;
    const timer = this.clock.setTimeout(() => this.closeWindow(key), this.windowMs);
    this.bytes += b;
    this.windows.set(key, { firstTime: alert.time, lastTime: alert.time, last: alert, bytes: b, count: 0, timer });
  }

  /** Bytes of alerts held for follow-ups now. */
  get heldBytes(): number {
    return this.bytes;
  }

  private closeWindow(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.clock.clear(w.timer);
    this.windows.delete(key);
    this.bytes -= w.bytes;
    if (w.count === 0) return;
    this.inner.write({
      ...w.last,
      output: `${w.last.output} (repeated ${w.count} times since ${w.firstTime})`,
      output_fields: {
        ...w.last.output_fields,
        [REPEAT_FIELDS.count]: w.count,
        [REPEAT_FIELDS.first]: w.firstTime,
        [REPEAT_FIELDS.last]: w.lastTime,
      },
    });
  }

  private closeAll(): void {
    for (const key of [...this.windows.keys()]) this.closeWindow(key);
  }

  override flush(): Promise<void> {
    this.closeAll();
    return this.inner.flush();
  }

  override shutdown(deadline?: Deadline): Promise<void> {
    this.closeAll();
    return this.inner.shutdown(deadline);
  }
}
