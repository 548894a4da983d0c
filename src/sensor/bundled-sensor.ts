import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { TlsFiles } from '../transport/index.js';
import type { Logger } from '../telemetry/index.js';
import { EbpfCapture } from './ebpf-capture.js';
import { buildInfo } from '../version.js';
import { SensorSetupError } from './sensor-checks.js';
import { SensorServer } from './sensor-server.js';
import { deadlineIn, msLeft, type Deadline } from '../lifecycle.js';

/** A running bundled sensor: capture feeding the sensor API server. */
export interface BundledSensor {
  readonly address: string;
  readonly capture: EbpfCapture;
  readonly server: SensorServer;
  /** Stops the capture, then the server (upstream first), within `deadlineMs`. Idempotent. */
  shutdown(deadline?: Deadline): Promise<void>;
}

/** Where and how the bundled sensor serves. */
export interface BundledSensorOptions {
  /** The loader binary (`checkSensorHost().loader`). */
  readonly loader: string;
  /** Kernel ring buffer in bytes (power of two; default 16 MiB). */
  readonly ringBytes?: number;
  /** `unix:///path.sock` or `host:port`. */
  readonly listen: string;
  readonly tls?: TlsFiles;
  /**
   * Group (gid) allowed to read events from the unix socket: the socket becomes 0660 and its
   * directory 0750, both of that group. Without it: 0600 and 0700, root (the owner) only.
   */
  readonly socketGroup?: number;
  /** Allows a TCP listener without TLS (anyone who reaches the port reads every syscall event). */
  readonly insecure?: boolean;
  readonly logger?: Logger;
}

/**
 * Starts the bundled eBPF sensor: the sensor API server, then the eBPF loader feeding it. A unix socket
 * left by a sensor that died is replaced, but one that a live sensor still serves is not (the
 * start fails, saying so); the socket and its directory get explicit modes (see
 * {@link BundledSensorOptions.socketGroup}). A TCP listener needs TLS unless `insecure`.
 * Throws when the server cannot listen or the program cannot attach (the server is closed again).
 * The kernel captures what the subscribers' event types need (SubscribeRequest.event_types).
 * Host checks are the caller's (`checkSensorHost`).
 */
export async function startBundledSensor(opts: BundledSensorOptions): Promise<BundledSensor> {
  const unixPath = opts.listen.startsWith('unix://') ? opts.listen.slice('unix://'.length) : undefined;
  if (unixPath) await prepareSocketPath(unixPath, opts.socketGroup);
  else if (!opts.tls?.cert && !opts.insecure) {
    throw new SensorSetupError(
      `refusing to serve syscall events on TCP ${opts.listen} without TLS: anyone who reaches the port would read them; give --tls-cert and --tls-key (and --tls-ca for mutual TLS), use a unix socket, or pass --insecure on a trusted network`,
    );
  }
  let captureRef: EbpfCapture | undefined;
  const server = new SensorServer({
    listen: opts.listen,
    tls: opts.tls,
    logger: opts.logger,
    backend: 'peregrine-ebpf-core 2',
    version: buildInfo().version,
    onEventTypes: (types) => captureRef?.setEventTypes(types),
  });
  const address = await server.start();
  if (unixPath) {
    chmodSync(unixPath, opts.socketGroup === undefined ? 0o600 : 0o660);
    if (opts.socketGroup !== undefined) chownSync(unixPath, -1, opts.socketGroup);
  }
  const capture = (captureRef = new EbpfCapture({
    loader: opts.loader,
    ringBytes: opts.ringBytes,
    logger: opts.logger,
    onEvents: (e) => server.publish(e),
    onLost: (n) => server.recordLost(n),
  }));
  server.setHealth(() => ({
    healthy: capture.capturing,
    reason: capture.capturing ? '' : `sensor not capturing: ${capture.reason}`,
  }));
  try {
    await capture.start();
  } catch (err) {
    await capture.shutdown();
    await server.shutdown();
    throw new Error(`the eBPF sensor could not attach: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  let stopping: Promise<void> | undefined;
  return {
    address,
    capture,
    server,
    shutdown: (deadline = deadlineIn(3_000)) =>
      (stopping ??= (async () => {
        await capture.shutdown(deadlineIn(Math.max(100, msLeft(deadline) - 500)));
        await server.shutdown(deadlineIn(Math.min(500, Math.max(100, msLeft(deadline)))));
      })()),
  };
}

/**
 * Makes the socket's directory (explicit mode) and removes a stale socket: one that no process
 * answers on. A socket another sensor still serves is left alone and the start fails.
 */
async function prepareSocketPath(path: string, group: number | undefined): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, group === undefined ? 0o700 : 0o750);
  if (group !== undefined) chownSync(dir, -1, group);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live)
    throw new SensorSetupError(
      `another sensor is serving on ${path}: stop it first, or give this one another --listen address`,
    );
  rmSync(path, { force: true });
}
