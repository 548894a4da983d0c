import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { errorMessage } from '../event/index.js';
import {
  SYSCALLS,
  SensorSetupError,
  checkSensorHost,
  enabledNumbers,
  specLines,
  startBundledSensor,
} from '../sensor/index.js';
import { DEFAULT_SENSOR_ADDRESS } from '../sources/index.js';
import { createLogger } from '../telemetry/index.js';
import { UsageError, type CommandImpl } from './command.js';

export const sensorCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        listen: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-ca': { type: 'string' },
        'print-program': { type: 'boolean' },
        'ring-bytes': { type: 'string' },
        insecure: { type: 'boolean' },
        'socket-group': { type: 'string' },
      },
    });
    if (values['print-program']) {
      // what the loader writes into the kernel program's table (sensor/loader.c), with names
      const lines = specLines(new Set(enabledNumbers(undefined)));
      const names = new Map(SYSCALLS.map((s) => [s.nr, s.name]));
      io.stdout.write(
        '# spec NR STR1 STR2 STR3 SOCKFD ADDR EXEC ENABLED   (sensor/record.h struct pg_spec)\n' +
          lines.map((l) => `${l}   # ${names.get(Number(l.split(' ')[1])) ?? 'procexit'}`).join('\n') +
          '\n',
      );
      return 0;
    }
    const ringBytes = values['ring-bytes'] === undefined ? undefined : Number(values['ring-bytes']);
    if (
      ringBytes !== undefined &&
      !(Number.isInteger(ringBytes) && ringBytes >= 4096 && (ringBytes & (ringBytes - 1)) === 0)
    )
      throw new UsageError(`--ring-bytes ${values['ring-bytes']}: a power of two of at least 4096, such as 16777216`);
    const listen = values.listen ?? DEFAULT_SENSOR_ADDRESS;
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
      throw new UsageError('--tls-cert and --tls-key go together');
    const tls = values['tls-cert']
      ? { cert: values['tls-cert'], key: values['tls-key'], ca: values['tls-ca'] }
      : undefined;
    const socketGroup = values['socket-group'] === undefined ? undefined : groupId(values['socket-group']);
    const log = createLogger();
    let host;
    try {
      host = checkSensorHost();
    } catch (err) {
      if (err instanceof SensorSetupError) {
        io.stderr.write(`peregrine sensor: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    let sensor;
    try {
      sensor = await startBundledSensor({
        loader: host.loader,
        ringBytes,
        listen,
        tls,
        logger: log,
        socketGroup,
        insecure: values.insecure,
      });
    } catch (err) {
      io.stderr.write(`peregrine sensor: ${errorMessage(err)}\n`);
      return 1;
    }
    const { address, capture, server } = sensor;
    log.info({ address, streamId: server.streamId }, 'sensor: capturing and serving');
    io.stderr.write(`peregrine sensor: capturing syscalls, serving on ${address}\n`);
    // SIGTERM/SIGINT stops (the sensor's own deadline bounds it); a second signal exits at once
    return new Promise<number>((resolve) => {
      let signals = 0;
      const stop = (): void => {
        if (++signals > 1) return resolve(130);
        void sensor.shutdown().then(() => {
          io.stderr.write(`peregrine sensor: stopped; ${JSON.stringify({ ...capture.stats, ...server.stats })}\n`);
          resolve(0);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};

/** A group's id from its number or its name in /etc/group. */
function groupId(g: string): number {
  if (/^\d+$/.test(g)) return Number(g);
  let text = '';
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    /* reported below */
  }
  const line = text.split('\n').find((l) => l.split(':')[0] === g);
  if (!line) throw new UsageError(`--socket-group ${g}: no such group in /etc/group; give its number instead`);
  return Number(line.split(':')[2]);
}
