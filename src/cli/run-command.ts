import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, RulesLoadError } from '../agent/index.js';
import { ConfigError, ConfigSchema, DEFAULT_CONFIG_PATH, loadConfig, loadConfigFile, type Config } from '../config/index.js';
import { DEMO_EVENTS } from '../project-paths.js';
import { SensorSetupError, checkSensorHost, startBundledSensor } from '../sensor/index.js';
import { createLogger, type Logger } from '../telemetry/index.js';
import type { Command, CommandIO } from './cli-error.js';

const SENSOR_SOCKET = '/run/peregrine/sensor.sock';

/**
 * `peregrine run`: the daemon. With no configuration file it runs on embedded defaults: the
 * bundled eBPF sensor (in this process), the bundled rules, Falco JSON alerts on stdout.
 * SIGHUP reloads the rules and re-opens alert files; SIGTERM/SIGINT drain and exit 0; a second signal exits at once.
 */
export const runCommand: Command = {
  name: 'run',
  summary: 'run the agent (daemon): sources → rules → alerts; embedded defaults: bundled eBPF sensor, bundled rules, stdout',
  usage: [
    'peregrine run [--config FILE] [--rules FILE|DIR ...] [--demo]',
    `  --config FILE   YAML configuration (default ${DEFAULT_CONFIG_PATH} when it exists; see \`peregrine config defaults\`)`,
    '  --rules PATH    replaces the configured rules (like Falco -r; repeatable)',
    '  --demo          evaluate the bundled demo events instead of capturing',
  ].join('\n'),
  async run(args, io) {
    const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, rules: { type: 'string', multiple: true }, demo: { type: 'boolean' } } });
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
    let embeddedSensor: { stop: () => Promise<void> } | undefined;
    const embedded = !values.config && !existsSync(DEFAULT_CONFIG_PATH);
    if (values.demo) config = { ...config, sources: [{ type: 'replay', path: DEMO_EVENTS }] };
    else if (embedded) {
      const started = await startEmbeddedSensor(io, log);
      if (started) embeddedSensor = started;
      else config = { ...config, sources: [{ type: 'replay', path: DEMO_EVENTS }] };
    }
    const agent = new Agent(ConfigSchema.parse(config), { stdout: io.stdout, logger: log, rules: values.rules });
    try {
      await agent.start();
    } catch (err) {
      await agent.shutdown(2_000);
      await embeddedSensor?.stop();
      if (err instanceof RulesLoadError) io.stderr.write(`peregrine run: ${err.message}\n`);
      else io.stderr.write(`peregrine run: cannot start: ${(err as Error).message}\n`);
      return 1;
    }
    io.stderr.write(`peregrine run: running; metrics, /healthz and /readyz on ${agent.metricsAddress}; SIGHUP reloads rules and reopens alert files\n`);
    const code = await new Promise<number>((resolve) => {
      let signals = 0;
      const stop = (): void => {
        if (++signals > 1) process.exit(130);
        void agent.shutdown().then(() => resolve(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      process.on('SIGHUP', () => {
        agent.reopenOutputs();
        agent.reload('SIGHUP');
      });
      void agent.finished.then(() => agent.shutdown()).then(() => resolve(0));
    });
    await embeddedSensor?.stop();
    return code;
  },
};

/** Starts the bundled sensor in this process; undefined (after saying why) when it cannot run here. */
async function startEmbeddedSensor(io: CommandIO, log: Logger): Promise<{ stop: () => Promise<void> } | undefined> {
  let host;
  try {
    host = checkSensorHost();
  } catch (err) {
    if (!(err instanceof SensorSetupError)) throw err;
    io.stderr.write(`peregrine run: ${err.message}\nperegrine run: evaluating the bundled demo events instead\n`);
    return undefined;
  }
  let sensor;
  try {
    sensor = await startBundledSensor({ bpftrace: host.bpftrace, listen: `unix://${SENSOR_SOCKET}`, logger: log });
  } catch (err) {
    io.stderr.write(`peregrine run: ${(err as Error).message}\nperegrine run: evaluating the bundled demo events instead\n`);
    return undefined;
  }
  io.stderr.write(`peregrine run: bundled eBPF sensor capturing (unix://${SENSOR_SOCKET})\n`);
  return sensor;
}
