import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { buildSinks } from '../agent/index.js';
import { ConfigError, loadConfigFile } from '../config/index.js';
import { isoNanos, type Alert } from '../event/index.js';
import { UsageError, type CommandImpl } from './command.js';

export const alertsTestCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' } } });
    if (!values.config) throw new UsageError('--config FILE is required');
    let config;
    try {
      config = loadConfigFile(values.config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr.write(`peregrine alerts test: invalid configuration:\n${err.problems.join('\n')}\n`);
      return 1;
    }
    const outcomes = new Map<string, string[]>();
    const record = (sink: string, o: string): void => void outcomes.set(sink, [...(outcomes.get(sink) ?? []), o]);
    // no spool (a test alert must not wait on disk for a later start), no folding or filter, two attempts
    const sinks = buildSinks(config, {
      stdout: io.stdout,
      fold: false,
      filter: false,
      maxAttempts: 2,
      spool: false,
      observer: {
        outcome: (sink, o, _n, reason) => record(sink, reason ? `${o} (${reason})` : o),
        latency: () => undefined,
      },
    });
    const alert: Alert = {
      time: isoNanos(BigInt(Date.now()) * 1_000_000n),
      rule: 'Peregrine test alert',
      priority: 'Emergency',
      source: 'internal',
      tags: ['peregrine', 'test'],
      hostname: config.node.name ?? process.env.NODE_NAME ?? hostname(),
      output: 'This is a test alert sent by `peregrine alerts test`; nothing happened.',
      output_fields: { 'peregrine.test': true },
    };
    for (const s of sinks) s.write(alert);
    await Promise.all(sinks.map((s) => s.shutdown()));
    let failed = 0;
    for (const s of sinks) {
      const o = outcomes.get(s.name) ?? [];
      const ok = o.includes('sent');
      if (!ok) failed++;
      io.stderr.write(`${ok ? 'ok    ' : 'FAILED'} ${s.name}: ${o.join(', ') || 'no outcome'}\n`);
    }
    return failed ? 1 : 0;
  },
};
