import { mkdirSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BUNDLED_RULES, DEMO_EVENTS } from '../project-paths.js';
import { BpftraceCapture, SensorServer, SensorSetupError, checkSensorHost } from '../sensor/index.js';
import { silentLogger } from '../telemetry/index.js';
import type { Command } from './cli-error.js';
import { replayCommand } from './replay-command.js';

const SOCKET_DIR = '/run/peregrine';

/**
 * `peregrine run`: the agent on embedded defaults — the bundled eBPF sensor, the bundled
 * rules, Falco JSON alerts on stdout. Until the daemon lands (config, sinks, metrics, hot
 * reload), this wires the sensor to the engine directly and says so. Where the sensor cannot
 * run, it says why and evaluates the bundled demo events instead.
 */
export const runCommand: Command = {
  name: 'run',
  summary: 'start the agent: bundled eBPF sensor → bundled rules → alerts on stdout (the full daemon is not built yet)',
  usage: 'peregrine run [--rules FILE|DIR ...] [--demo | --events FILE|-]',
  async run(args, io) {
    const { values } = parseArgs({ args: [...args], options: { rules: { type: 'string', multiple: true }, demo: { type: 'boolean' }, events: { type: 'string' } } });
    const rules = (values.rules ?? [BUNDLED_RULES]).flatMap((r) => ['--rules', r]);
    if (values.demo || values.events) {
      io.stderr.write('peregrine run: evaluating replayed events (no live capture)\n');
      return replayCommand.run([...rules, '--events', values.events ?? DEMO_EVENTS, '--rule-matching', 'all'], io);
    }
    let host;
    try {
      host = checkSensorHost();
    } catch (err) {
      if (!(err instanceof SensorSetupError)) throw err;
      io.stderr.write(`peregrine run: ${err.message}\nperegrine run: evaluating the bundled demo events instead\n`);
      return replayCommand.run([...rules, '--events', DEMO_EVENTS, '--rule-matching', 'all'], io);
    }
    mkdirSync(SOCKET_DIR, { recursive: true });
    const sock = `${SOCKET_DIR}/sensor.sock`;
    rmSync(sock, { force: true });
    const server = new SensorServer({ listen: `unix://${sock}`, logger: silentLogger(), backend: 'bpftrace' });
    await server.start();
    const capture = new BpftraceCapture({ bpftrace: host.bpftrace, onEvents: (e) => server.publish(e), onLost: (n) => server.recordLost(n) });
    try {
      await capture.start();
    } catch (err) {
      io.stderr.write(`peregrine run: bpftrace could not attach its probes: ${(err as Error).message}\n`);
      await server.shutdown();
      return 1;
    }
    io.stderr.write(`peregrine run: capturing with the bundled eBPF sensor (unix://${sock}); alerts on stdout; Ctrl-C stops. The daemon (config, sinks, metrics, hot reload) is not built yet.\n`);
    try {
      return await replayCommand.run([...rules, '--source', `sensor:unix://${sock}`], io);
    } finally {
      await capture.stop();
      await server.shutdown();
    }
  },
};
