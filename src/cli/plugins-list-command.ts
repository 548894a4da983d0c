import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { SINK_PLUGINS } from '../sinks/index.js';
import { SOURCE_PLUGINS } from '../sources/index.js';
import type { CommandImpl } from './command.js';

/** One plug-in as `plugins list` shows it. */
interface PluginInfo {
  readonly family: 'source' | 'sink';
  readonly type: string;
  readonly description: string;
  readonly example: Readonly<Record<string, unknown>>;
}

/** Every plug-in family's registry, in the order a config file names them. */
function plugins(): PluginInfo[] {
  return [
    ...SOURCE_PLUGINS.map((p) => ({
      family: 'source' as const,
      type: p.type,
      description: p.description,
      example: { type: p.type, ...p.example },
    })),
    ...SINK_PLUGINS.map((p) => ({
      family: 'sink' as const,
      type: p.type,
      description: p.description,
      example: { type: p.type, ...p.example },
    })),
  ];
}

export const pluginsListCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } }, allowPositionals: false });
    const all = plugins();
    if (values.json) {
      io.stdout.write(JSON.stringify({ plugins: all }) + '\n');
      return 0;
    }
    for (const family of ['source', 'sink'] as const) {
      io.stdout.write(`${family}s (config key \`${family}s:\`):\n`);
      for (const p of all.filter((x) => x.family === family)) {
        const example = stringify([p.example])
          .trimEnd()
          .split('\n')
          .map((l) => `      ${l}`)
          .join('\n');
        io.stdout.write(`  ${p.type}\n    ${p.description}\n    example:\n${example}\n`);
      }
      io.stdout.write('\n');
    }
    return 0;
  },
};
