import { readdirSync, readFileSync } from 'node:fs';
import { errorMessage, type FieldKeyTable } from '../event/index.js';
import { formatDiagnostic } from '../lang/index.js';
import { loadPolicies, type Responder } from '../respond/index.js';
import type { Logger } from '../telemetry/index.js';
import { PathWatcher } from './path-watcher.js';

/** Response policies that failed to load at start: the diagnostics as text. */
export class ResponsesLoadError extends Error {
  constructor(readonly diagnostics: string) {
    super(`response policies do not load:\n${diagnostics}`);
    this.name = 'ResponsesLoadError';
  }
}

/**
 * Owns the running response policies, as RulesManager owns the rules: loads them at start (a
 * failure fails start-up with the diagnostics), reloads on change or SIGHUP, and keeps the
 * previous policies when a reload has errors (reported through `onReloadFailure`).
 */
export class ResponsesManager {
  private watcher: PathWatcher | undefined;

  constructor(
    private readonly paths: readonly string[],
    private readonly table: FieldKeyTable,
    private readonly responder: Responder,
    private readonly knownRules: () => ReadonlySet<string>,
    private readonly log: Logger,
    private readonly onReloadFailure: (reason: string, diagnostics: string) => void,
  ) {}

  async start(): Promise<void> {
    this.load('start');
    this.watcher = new PathWatcher(
      this.paths,
      (n) => /\.ya?ml$/.test(n),
      () => this.load('file change'),
      this.log,
      'responses',
    );
    this.watcher.start();
  }

  /** Loads (or reloads) the policies; returns whether the new ones run. Throws only at start. */
  load(reason: string): boolean {
    let text: string;
    try {
      const r = loadPolicies(this.paths, this.table, this.knownRules());
      for (const w of r.diagnostics.warnings) this.log.warn({ reason }, formatDiagnostic(w));
      if (r.diagnostics.errors.length === 0) {
        this.responder.setPolicies(r.policies);
        this.log.info({ reason, policies: r.policies.length, files: r.files.length }, 'response policies loaded');
        return true;
      }
      text = r.diagnostics.errors.map((d) => formatDiagnostic(d, sourceOf(d.file))).join('\n');
    } catch (err) {
      text = `loading failed: ${errorMessage(err)}`;
    }
    if (reason === 'start') throw new ResponsesLoadError(text);
    this.log.error(
      { reason, diagnostics: text },
      'response policies reload failed; the previous policies keep running',
    );
    this.onReloadFailure(reason, text);
    return false;
  }

  async shutdown(): Promise<void> {
    this.watcher?.stop();
  }
}

function sourceOf(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Pids of these processes and their descendants (the agent, its sensor, helpers): never killed by a response. */
export function ownProcesses(roots: readonly number[] = [process.pid], procRoot = '/proc'): Set<number> {
  const parent = new Map<number, number>();
  for (const d of readdirSync(procRoot)) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`${procRoot}/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const own = new Set<number>(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent)
      if (!own.has(pid) && own.has(ppid)) {
        own.add(pid);
        grew = true;
      }
  }
  return own;
}

/** The pid a sensor wrote beside its unix socket (`SOCKET.pid`), when there is one. */
export function sensorPid(socketPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${socketPath}.pid`, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
