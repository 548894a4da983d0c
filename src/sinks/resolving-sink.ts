import { readFileSync } from 'node:fs';
import { isoNanos, type Alert } from '../event/index.js';
import { SinkWrapper, type AlertSink } from './alert-sink.js';
import { alertIdentity } from './formats/index.js';
import { decodeSpoolRecord, encodeSpoolRecord } from './spool-record.js';
import { writeFileAtomic } from './write-file-atomic.js';
import type { Deadline } from '../lifecycle.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../clock.js';

/** Output field marking an alert as the resolution of earlier ones (same rule × workload × node). */
export const RESOLVED_FIELD = 'peregrine.resolved';

/** True for a resolution written by ResolvingSink. */
export function isResolution(a: Alert): boolean {
  return a.output_fields[RESOLVED_FIELD] === true;
}

/** Open problems tracked at once; beyond, the one quiet longest is resolved early. */
const MAX_OPEN = 10_000;

/**
 * Resolves problems that went quiet: per rule × workload × node, when no alert came for
 * `quietMs`, writes a resolution (the last alert with `peregrine.resolved: true`, which the
 * PagerDuty format sends as `event_action: resolve` on the same dedup key). With a `statePath`,
 * open problems are saved on close and read back on start, so a restart does not leave
 * incidents open forever. Bounded; checks every `min(quietMs / 4, 30 s)`.
 */
export class ResolvingSink extends SinkWrapper {
  /** identity → last alert and when it came; insertion order = quiet longest first. */
  private readonly open = new Map<string, { alert: Alert; at: number }>();
  private readonly timer: ClockTimer;

  constructor(
    inner: AlertSink,
    private readonly quietMs: number,
    private readonly statePath?: string,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    super(inner);
    if (statePath) this.restore(statePath);
    this.timer = this.clock.setInterval(() => this.sweep(), Math.max(50, Math.min(quietMs / 4, 30_000)));
  }

  write(alert: Alert): void {
    if (!isResolution(alert)) {
      const key = alertIdentity(alert);
      this.open.delete(key);
      if (this.open.size >= MAX_OPEN) this.resolve(this.open.keys().next().value as string);
      this.open.set(key, { alert, at: this.clock.now() });
    }
    this.inner.write(alert);
  }

  /** Resolves every problem quiet for `quietMs` or longer. */
  sweep(now = this.clock.now()): void {
    for (const [key, o] of this.open) {
      if (now - o.at < this.quietMs) break;
      this.resolve(key);
    }
  }

  private resolve(key: string): void {
    const o = this.open.get(key);
    if (!o) return;
    this.open.delete(key);
    const minutes = Math.round(this.quietMs / 6_000) / 10;
    this.inner.write({
      ...o.alert,
      time: isoNanos(BigInt(this.clock.now()) * 1_000_000n),
      output: `Resolved: no "${o.alert.rule}" for ${minutes} min | last: ${o.alert.output}`,
      output_fields: { ...o.alert.output_fields, [RESOLVED_FIELD]: true },
    });
  }

  private restore(path: string): void {
    let lines: string[];
    try {
      lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    } catch {
      return; // nothing saved
    }
    for (const line of lines) {
      try {
        const r = decodeSpoolRecord(line);
        this.open.set(alertIdentity(r.alert), { alert: r.alert, at: r.at });
      } catch {
        // a damaged line: that problem stays open at the receiver (its own timeout applies)
      }
    }
  }

  override shutdown(deadline?: Deadline): Promise<void> {
    this.clock.clear(this.timer);
    this.sweep();
    if (this.statePath) {
      writeFileAtomic(
        this.statePath,
        [...this.open.values()].map((o) => encodeSpoolRecord({ alert: o.alert, at: o.at })).join('\n'),
      );
    }
    return this.inner.shutdown(deadline);
  }
}
