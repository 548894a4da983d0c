import type { Alert, SyscallEvent } from '../event/index.js';
import type { Deadline } from '../lifecycle.js';

/** What a source delivers: engine events (sensors) or alerts (Falco), in batches. */
export type SourceBatch =
  | { readonly kind: 'events'; readonly source: string; readonly events: readonly SyscallEvent[] }
  | { readonly kind: 'alerts'; readonly source: string; readonly alerts: readonly Alert[] };

/** Counters every source keeps; nothing it drops goes uncounted. */
export interface SourceStats {
  /** Messages received from the transport. */
  received: number;
  /** Events or alerts decoded and delivered to the buffer. */
  decoded: number;
  /** Messages that could not be decoded (skipped; the stream continues). */
  malformed: number;
  /** Events or alerts dropped because the buffer was full. */
  dropped: number;
  /** Events the producer reported lost, or that sequence gaps show were never received. */
  lost: number;
  /** Requests or connections that failed before their content was read (peer reset mid-body). */
  aborted: number;
  /** Alerts refused because their peer sent faster than its rate limit (falco-http). */
  rateLimited: number;
  /** Alerts kept but cut down to the size limits (see ALERT_LIMITS). */
  truncated: number;
  /** Events of unknown kinds (counted, not mapped). */
  unknownKinds: number;
  /** Connections (re)established. */
  connects: number;
  /** Whether the source is connected now. */
  connected: boolean;
}

export function emptyStats(): SourceStats {
  return {
    received: 0,
    decoded: 0,
    malformed: 0,
    dropped: 0,
    lost: 0,
    aborted: 0,
    rateLimited: 0,
    truncated: 0,
    unknownKinds: 0,
    connects: 0,
    connected: false,
  };
}

/**
 * One input of the pipeline. Lifecycle: `start()` connects (and keeps reconnecting, forever,
 * with backoff) and resolves once started (not once connected); batches are read with
 * `batches()`; `shutdown(deadline)` is idempotent (and safe before `start()`), stops taking input
 * and ends `batches()` by the deadline. See src/lifecycle.ts.
 */
export interface EventSource {
  readonly name: string;
  readonly stats: Readonly<SourceStats>;
  /** Events or alerts waiting in the source's buffer. */
  readonly queued: number;
  /**
   * What the producer says of its own health, where it says anything (the Peregrine sensor:
   * whether it is capturing); undefined when unknown or not connected.
   */
  readonly upstream?: { readonly healthy: boolean; readonly reason: string };
  start(): Promise<void>;
  /**
   * The event types the rules can match now (undefined: any), for sources that can tell their
   * producer to send only those (the Peregrine sensor filters in the kernel). Called after each
   * rules reload; a source that cannot filter ignores it.
   */
  setEventTypes?(types: readonly string[] | undefined): void;
  /** The delivered batches, in order, until shutdown. One consumer. */
  batches(): AsyncIterable<SourceBatch>;
  shutdown(deadline?: Deadline): Promise<void>;
}
