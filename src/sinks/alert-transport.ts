import type { Alert } from '../event/index.js';

/**
 * Sends one alert to a remote receiver. What a remote sink plug-in builds; queueing, retries,
 * spooling and metrics are DeliveringSink's. `send` resolves when the receiver acknowledged the
 * alert and rejects with a DeliveryError (permanent or transient) otherwise; it applies its own
 * timeout.
 */
export interface AlertTransport {
  /** The receiver for logs and errors, secret parts masked (`https://hooks.slack.com/…`). */
  readonly target: string;
  send(alert: Alert): Promise<void>;
  /** Releases connections. */
  close(): void;
}
