import { parseArgs } from 'node:util';
import { FieldCatalog } from '../event/index.js';
import type { CommandImpl } from './command.js';

export const fieldsCommand: CommandImpl = {
  async run(args, io) {
    const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } } });
    const all = new FieldCatalog().all();
    if (values.json) io.stdout.write(JSON.stringify(all) + '\n');
    else
      for (const f of all) io.stdout.write(`${f.name}${f.arg === 'none' ? '' : `[${f.arg}]`}\t${f.type}\t${f.desc}\n`);
    return 0;
  },
};
