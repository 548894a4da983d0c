import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, ResponsesLoadError, RulesLoadError } from '../agent/index.js';
import {
  ConfigError,
  ConfigSchema,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  loadConfigFile,
  type Config,
} from '../config/index.js';
import { DEFAULT_SENSOR_ADDRESS, DEMO_EVENTS } from '../defaults.js';
import { errorMessage } from '../event/index.js';
import { SensorSetupError, checkSensorHost, startBundledSensor, type BundledSensor } from '../sensor/index.js';
import { createLogger, type Logger } from '../telemetry/index.js';
import type { CommandImpl, CommandIO } from './command.js';
import { deadlineIn } from '../lifecycle.js';

/**
 * `peregrine run`: the daemon. With no configuration file it runs on embedded defaults: the
 * bundled eBPF sensor (in this process), the bundled rules, Falco JSON alerts on stdout.
 * When the bundled sensor cannot start it exits 1 with the reason (it never pretends to watch).
 * SIGHUP reloads the rules and re-opens alert files; SIGTERM/SIGINT drain and exit 0 within
 * `shutdown.deadlineSeconds`; a second signal exits at once (130).
 */
export const runCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        config: { type: 'string' },
        rules: { type: 'string', multiple: true },
        responses: { type: 'string', multiple: true },
        demo: { type: 'boolean' },
      },
    });
    let config: Config;
    try {
      if (values.config) config = loadConfigFile(values.config);
      else if (existsSync(DEFAULT_CONFIG_PATH)) config = loadConfigFile(DEFAULT_CONFIG_PATH);
      else config = loadConfig(undefined, '<embedded defaults>', process.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr.write(`peregrine run: invalid configuration:\n${err.problems.join('\n')}\n`);
      return 1;
    }
    const log = createLogger(process.env.PEREGRINE_LOG_LEVEL ?? config.log.level);
    let embeddedSensor: BundledSensor | undefined;
    const embedded = !values.config && !existsSync(DEFAULT_CONFIG_PATH);
    if (values.demo) config = { ...config, sources: [{ type: 'replay', path: DEMO_EVENTS }] };
    else if (embedded) {
      // A security agent never pretends to watch: no sensor, no start.
      // the sensor serves where the configured sensor source connects (PEREGRINE_SOURCES may move it)
      const sensorSource = config.sources.find((s) => s.type === 'sensor') as { address?: string } | undefined;
      const started = await startEmbeddedSensor(io, log, sensorSource?.address ?? DEFAULT_SENSOR_ADDRESS);
      if (!started) return 1;
      embeddedSensor = started;
    }
    const agent = new Agent(ConfigSchema.parse(config), {
      stdout: io.stdout,
      logger: log,
      rules: values.rules,
      responses: values.responses,
    });
    const deadlineMs = config.shutdown.deadlineSeconds * 1_000;
    try {
      await agent.start();
    } catch (err) {
      await agent.shutdown(deadlineIn(2_000));
      await embeddedSensor?.shutdown(deadlineIn(2_000));
      if (err instanceof RulesLoadError || err instanceof ResponsesLoadError)
        io.stderr.write(`peregrine run: ${err.message}\n`);
      else io.stderr.write(`peregrine run: cannot start: ${errorMessage(err)}\n`);
      return 1;
    }
    io.stderr.write(
      `peregrine run: running; metrics, /healthz and /readyz on ${agent.metricsAddress}; SIGHUP reloads rules and response policies and reopens alert files\n`,
    );
    const code = await new Promise<number>((resolve) => {
      let signals = 0;
      const stop = (): void => {
        if (++signals > 1) return resolve(130);
        const t0 = Date.now();
        // the agent and the sensor stop side by side, both within the deadline
        void Promise.all([
          agent.shutdown(deadlineIn(deadlineMs)),
          embeddedSensor?.shutdown(deadlineIn(Math.min(3_000, deadlineMs / 2))),
        ]).then(() => {
          io.stderr.write(`peregrine run: stopped in ${Date.now() - t0} ms\n`);
          resolve(0);
        });
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      process.on('SIGHUP', () => {
        agent.reopenOutputs();
        agent.reload('SIGHUP');
      });
      void agent.finished.then(() => agent.shutdown(deadlineIn(deadlineMs))).then(() => resolve(0));
    });
    await embeddedSensor?.shutdown(deadlineIn(1_000));
    return code;
  },
};

/** Starts the bundled sensor in this process; undefined (after saying why and what to do) when it cannot run here. */
async function startEmbeddedSensor(io: CommandIO, log: Logger, listen: string): Promise<BundledSensor | undefined> {
  const cannot = (why: string): undefined => {
    io.stderr.write(
      `peregrine run: the bundled eBPF sensor cannot start, so nothing would be watched:\n${why}\n` +
        'peregrine run: fix the above (scripts/setup installs what is missing on Debian), point a configuration at another sensor (--config), ' +
        'or run `peregrine run --demo` for a tour on recorded events\n',
    );
    return undefined;
  };
  let host;
  try {
    host = checkSensorHost();
  } catch (err) {
    if (!(err instanceof SensorSetupError)) throw err;
    return cannot(err.message);
  }
  try {
    const sensor = await startBundledSensor({
      loader: host.loader,
      listen,
      logger: log,
    });
    io.stderr.write(`peregrine run: bundled eBPF sensor capturing (${listen})\n`);
    return sensor;
  } catch (err) {
    return cannot(errorMessage(err));
  }
}
