import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TlsFiles } from '../sources/grpc-transport.js';
import type { Logger } from '../telemetry/index.js';
import { BpftraceCapture } from './bpftrace-capture.js';
import { SensorServer } from './sensor-server.js';

/** A running bundled sensor: capture feeding the sensor API server. */
export interface BundledSensor {
  readonly address: string;
  readonly capture: BpftraceCapture;
  readonly server: SensorServer;
  /** Stops the capture, then the server (upstream first). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the bundled eBPF sensor: the sensor API server (a stale unix socket is replaced), then
 * bpftrace feeding it. Throws when the server cannot listen or bpftrace cannot attach (the server
 * is closed again). Host checks are the caller's (`checkSensorHost`).
 */
export async function startBundledSensor(opts: { bpftrace: string; listen: string; tls?: TlsFiles; logger?: Logger }): Promise<BundledSensor> {
  if (opts.listen.startsWith('unix://')) {
    const path = opts.listen.slice('unix://'.length);
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true });
  }
  const server = new SensorServer({ listen: opts.listen, tls: opts.tls, logger: opts.logger, backend: 'bpftrace' });
  const address = await server.start();
  const capture = new BpftraceCapture({ bpftrace: opts.bpftrace, logger: opts.logger, onEvents: (e) => server.publish(e), onLost: (n) => server.recordLost(n) });
  try {
    await capture.start();
  } catch (err) {
    await server.shutdown();
    throw new Error(`bpftrace could not attach its probes: ${(err as Error).message}`, { cause: err });
  }
  return {
    address, capture, server,
    stop: async () => {
      await capture.stop();
      await server.shutdown();
    },
  };
}
