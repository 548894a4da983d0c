import { atLeast, type Alert, type Priority } from '../event/index.js';
import { SinkWrapper, type AlertSink, type SinkObserver } from './alert-sink.js';

/** Which alerts a sink takes: all of the given conditions hold (an absent one always holds). */
export interface AlertFilter {
  readonly minPriority?: Priority;
  /** Rule names, exactly. */
  readonly rules?: readonly string[];
  /** At least one of these tags. */
  readonly tags?: readonly string[];
}

/** Passes on the alerts the filter takes; the others are counted as `filtered`. */
export class FilteringSink extends SinkWrapper {
  private readonly rules: ReadonlySet<string> | undefined;
  private readonly tags: ReadonlySet<string> | undefined;

  constructor(
    inner: AlertSink,
    private readonly filter: AlertFilter,
    private readonly observer: SinkObserver,
  ) {
    super(inner);
    this.rules = filter.rules?.length ? new Set(filter.rules) : undefined;
    this.tags = filter.tags?.length ? new Set(filter.tags) : undefined;
  }

  /** True when the filter takes the alert. */
  takes(a: Alert): boolean {
    if (this.filter.minPriority && !atLeast(a.priority, this.filter.minPriority)) return false;
    if (this.rules && !this.rules.has(a.rule)) return false;
    if (this.tags && !a.tags.some((t) => this.tags!.has(t))) return false;
    return true;
  }

  write(alert: Alert): void {
    if (this.takes(alert)) this.inner.write(alert);
    else this.observer.outcome(this.name, 'filtered', 1);
  }
}
