import { parseArgs } from 'node:util';
import { FieldKeyTable } from '../event/index.js';
import { loadConfigFile, DEFAULT_CONFIG_PATH } from '../config/index.js';
import { formatDiagnostic } from '../lang/index.js';
import { loadPolicies, RESPONSE_ACTIONS } from '../respond/index.js';
import type { CommandImpl } from './command.js';

/**
 * `peregrine responses list [--json] [--config FILE] [--actions] [FILE|DIR...]`: the policies
 * (of the given paths, else of the configuration's `responses.paths`) with what they match and
 * do; `--actions`: every action with its parameters, required fields and permissions.
 */
export const responsesListCommand: CommandImpl = {
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' }, config: { type: 'string' }, actions: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (values.actions) {
      const actions = RESPONSE_ACTIONS.map((a) => ({
        name: a.name,
        description: a.description,
        requires: a.requires,
        podScoped: a.podScoped,
        rbac: a.rbac,
      }));
      if (values.json) io.stdout.write(JSON.stringify({ actions }) + '\n');
      else
        io.stdout.write(
          actions.map((a) => `${a.name.padEnd(18)} ${a.description} (needs ${a.requires.join(', ')})`).join('\n') +
            '\n',
        );
      return 0;
    }
    const paths = positionals.length
      ? positionals
      : loadConfigFile(values.config ?? DEFAULT_CONFIG_PATH, process.env, values.config === undefined).responses.paths;
    const load = loadPolicies(paths, new FieldKeyTable());
    if (load.diagnostics.errors.length) {
      io.stderr.write(load.diagnostics.errors.map((d) => formatDiagnostic(d)).join('\n') + '\n');
      return 1;
    }
    const rows = load.policies.map((p) => ({
      name: p.name,
      file: `${p.file}:${p.line}`,
      rules: p.rules ? [...p.rules] : [],
      priority: p.priority ? `${p.priority.op} ${p.priority.priority}` : null,
      tags: p.tags ?? [],
      condition: p.condition?.text ?? null,
      actions: p.actions.map((a) => a.action.name),
      dry_run: p.dryRun,
      continue: p.continue,
      owner_kinds: [...p.ownerKinds],
    }));
    if (values.json) io.stdout.write(JSON.stringify({ policies: rows }) + '\n');
    else if (!rows.length)
      io.stdout.write(`no response policies${paths.length ? '' : ' configured (responses.paths)'}\n`);
    else
      io.stdout.write(
        rows
          .map(
            (r) =>
              `${r.name}${r.dry_run ? ' [dry run]' : ''}\n  ${r.file}\n  match: ${[
                r.rules.length ? `rules ${r.rules.join(', ')}` : '',
                r.priority ? `priority ${r.priority}` : '',
                r.tags.length ? `tags ${r.tags.join(', ')}` : '',
                r.condition ? `condition ${r.condition}` : '',
              ]
                .filter(Boolean)
                .join(
                  '; ',
                )}\n  actions: ${r.actions.join(' → ')}${r.continue ? '\n  continue: later policies may match too' : ''}`,
          )
          .join('\n') + '\n',
      );
    return 0;
  },
};
