import type { Alert } from '../event/index.js';

/**
 * Where alerts go. `write` never throws (failures are counted by the sink); `flush` resolves
 * when written alerts are delivered; `close` is idempotent. (The alert-delivery issue adds
 * queues, retries, spooling and the HTTP sinks around this interface.)
 */
export interface AlertSink {
  readonly name: string;
  write(alert: Alert): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
