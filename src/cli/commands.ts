import { DEFAULT_CONFIG_PATH, DEFAULT_SENSOR_ADDRESS } from '../defaults.js';
import type { Command } from './command.js';

/**
 * Every command, once: what `--help` shows, and how to load the implementation. Modules load only
 * when their command runs, so `--help` and `rules validate` start fast. Adding a command: its file
 * (exporting a `CommandImpl`) and one entry here.
 */
export const COMMANDS: readonly Command[] = [
  {
    name: 'run',
    summary:
      'run the agent (daemon): sources → rules → alerts; embedded defaults: bundled eBPF sensor, bundled rules, stdout',
    usage: [
      'peregrine run [--config FILE] [--rules FILE|DIR ...] [--responses FILE|DIR ...] [--demo]',
      `  --config FILE   YAML configuration (default ${DEFAULT_CONFIG_PATH} when it exists; see \`peregrine config defaults\`)`,
      '  --rules PATH    replaces the configured rules (like Falco -r; repeatable)',
      '  --responses PATH  replaces the configured response policies (repeatable; docs/responses.md)',
      '  --demo          a tour: evaluate the bundled demo events instead of capturing',
    ].join('\n'),
    load: async () => (await import('./run-command.js')).runCommand,
  },
  {
    name: 'sensor',
    summary: 'run the bundled eBPF sensor (CO-RE program, binary records) and serve its events over the sensor API',
    usage: [
      'peregrine sensor [--listen ADDRESS] [--socket-group GROUP] [--tls-cert F --tls-key F [--tls-ca F]] [--insecure] [--ring-bytes N] [--print-program]',
      `  --listen ADDRESS    ${DEFAULT_SENSOR_ADDRESS} (default) or host:port (TCP needs TLS)`,
      '  --socket-group GROUP  group (name or gid) that may read events: socket 0660, directory 0750 (default: 0600/0700, root only)',
      '  --tls-cert/--tls-key/--tls-ca   TLS (and with a CA, mutual TLS) from files, re-read when they change',
      '  --insecure          allow TCP without TLS (anyone who reaches the port reads every syscall event)',
      '  --ring-bytes N      kernel ring buffer shared by all CPUs (power of two; default 16777216)',
      "  --print-program     print the kernel program's syscall table (what it reads per syscall) and exit",
    ].join('\n'),
    load: async () => (await import('./sensor-command.js')).sensorCommand,
  },
  {
    name: 'replay',
    summary: 'evaluate events (JSON Lines, or a live source) against rules and print Falco JSON alerts',
    usage: [
      'peregrine replay --rules FILE [--rules FILE ...] (--events FILE|- | --source TYPE:ADDRESS ...) [options]',
      '  --rule-matching first|all   one alert per event (Falco default: first) or every match',
      '  --min-priority P            load only rules (and pass only Falco alerts) at least this severe',
      "  --append-field FIELD        add FIELD to every alert's output_fields (repeatable)",
      '  --disable-rule SUBSTRING    disable rules whose name contains SUBSTRING (Falco -D)',
      '  --tag TAG / --disable-tag TAG   run only / disable rules with TAG (Falco -t / -T)',
      '  --hostname NAME             hostname in alerts (default: this machine)',
      '  --strict                    stop at the first bad line (exit 1)',
      '  --source TYPE:ADDRESS       a live source: sensor:unix:///run/peregrine/sensor.sock, tetragon:localhost:54321,',
      '                              falco-grpc:unix:///run/falco/falco.sock, falco-http:127.0.0.1:2801 (repeatable)',
      '  --max-events N / --duration SECONDS   stop live sources after N events or SECONDS',
    ].join('\n'),
    load: async () => (await import('./replay-command.js')).replayCommand,
  },
  {
    name: 'responses validate',
    summary:
      'check response policy files: every error and warning with file:line:column (exit 0, 1 on errors, 2 on usage)',
    usage:
      'peregrine responses validate [--json] [--rules PATH ...] FILE|DIR...   (--rules: warn about rule names no loaded rule has)',
    load: async () => (await import('./responses-validate-command.js')).responsesValidateCommand,
  },
  {
    name: 'responses list',
    summary: 'list response policies (given, or the configured responses.paths); --actions lists the actions',
    usage: 'peregrine responses list [--json] [--config FILE] [--actions] [FILE|DIR...]',
    load: async () => (await import('./responses-list-command.js')).responsesListCommand,
  },
  {
    name: 'responses release',
    summary: 'undo an isolation now, through the local agent (its unix socket, root only)',
    usage: 'peregrine responses release --pod NAMESPACE/NAME [--socket PATH]   |   --list',
    load: async () => (await import('./responses-release-command.js')).responsesReleaseCommand,
  },
  {
    name: 'rules validate',
    summary: 'check rules files (Falco language): every error and warning with file:line:column',
    usage: 'peregrine rules validate [--json] FILE|DIR...',
    load: async () => (await import('./rules-validate-command.js')).rulesValidateCommand,
  },
  {
    name: 'rules list',
    summary: 'list the rules of rules files with priority, tags, enabled and event types',
    usage: 'peregrine rules list [--json] FILE|DIR...',
    load: async () => (await import('./rules-list-command.js')).rulesListCommand,
  },
  {
    name: 'rules test',
    summary: 'run rule unit tests (*.test.yaml): events in, expected alerts out, through the real engine',
    usage:
      'peregrine rules test [--junit FILE] [--rules FILE...] PATH...   (PATH: test files or directories searched for *.test.yaml)',
    load: async () => (await import('./rules-test-command.js')).rulesTestCommand,
  },
  {
    name: 'rules lint',
    summary: 'find rule problems beyond errors: unused items, slow or shadowed rules, <NA> checks, duplicates',
    usage:
      'peregrine rules lint [--json] [--max-warnings N] FILE|DIR...   (exit 1 on errors, or on more than N warnings)',
    load: async () => (await import('./rules-lint-command.js')).rulesLintCommand,
  },
  {
    name: 'rules explain',
    summary: 'for one event: which rules match, and why a rule did or did not (condition tree with values)',
    usage:
      'peregrine rules explain --rules FILE... --event JSON|@FILE [--rule NAME] [--json]\n  --event takes one flat event, as in replay: \'{"evt.type":"openat","fd.name":"/etc/shadow"}\'',
    load: async () => (await import('./rules-explain-command.js')).rulesExplainCommand,
  },
  {
    name: 'config validate',
    summary: 'check a daemon configuration file: every problem at once, each with its path',
    usage: 'peregrine config validate FILE   (environment overrides PEREGRINE_A__B=value apply too)',
    load: async () => (await import('./config-command.js')).configValidateCommand,
  },
  {
    name: 'config defaults',
    summary: 'print the embedded default configuration (YAML)',
    usage: 'peregrine config defaults',
    load: async () => (await import('./config-command.js')).configDefaultsCommand,
  },
  {
    name: 'alerts test',
    summary: 'send one test alert through every configured sink and report each outcome',
    usage: 'peregrine alerts test --config FILE',
    load: async () => (await import('./alerts-test-command.js')).alertsTestCommand,
  },
  {
    name: 'fields',
    summary: 'list the fields rules can use (Falco names), with type and argument form',
    usage: 'peregrine fields [--json]',
    load: async () => (await import('./fields-command.js')).fieldsCommand,
  },
  {
    name: 'plugins list',
    summary: 'list the plug-ins of this build (sources, sinks): type, description, an example config',
    usage: 'peregrine plugins list [--json]',
    load: async () => (await import('./plugins-list-command.js')).pluginsListCommand,
  },
];
