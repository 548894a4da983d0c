import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../event/index.js';
import type { Logger } from '../telemetry/index.js';
import { SYSTEM_CLOCK, type Clock, type ClockTimer } from '../clock.js';
import { isolateNetns, releaseNetns } from './netns-firewall.js';
import type { PodOperations } from './response-services.js';

/** The label that marks a quarantined pod (the NetworkPolicy selects it). */
export const QUARANTINE_LABEL = 'peregrine.dev/quarantine';

/** One isolated pod, as kept on disk so that an agent restart re-applies or expires it. */
export interface IsolationRecord {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  /** When it ends (ms since the epoch). */
  readonly until: number;
  readonly allowDns: boolean;
}

export interface PodIsolationsOptions {
  /** Where isolations are kept (JSON, 0600). */
  readonly stateFile: string;
  readonly pods?: PodOperations;
  /** A pid in the pod's network namespace (its sandbox), from the container runtime. */
  readonly netnsPid: (namespace: string, pod: string) => Promise<number | undefined>;
  readonly log: Logger;
  readonly clock?: Clock;
}

/** What an isolation did, in each of its two halves. */
export interface IsolationResult {
  readonly nodeLocal: string;
  /** When the node's table was in place (ms since the epoch); undefined when it was not. */
  readonly nodeLocalAt?: number;
  readonly durable: string;
  readonly ok: boolean;
}

const MAX_RECORDS = 1_000;
/** The state file holds at most MAX_RECORDS small records; anything larger was not written by us. */
const MAX_STATE_BYTES = 1024 * 1024;

/** A record as Peregrine writes it (anything else in the file is ignored). */
function validRecord(r: unknown): r is IsolationRecord {
  const x = r as Partial<IsolationRecord> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.namespace === 'string' &&
    typeof x.pod === 'string' &&
    typeof x.uid === 'string' &&
    typeof x.until === 'number' &&
    typeof x.allowDns === 'boolean'
  );
}

/**
 * Isolated pods: at once on the node (an nftables table in the pod's network namespace, see
 * netns-firewall.ts) and durably through the API (a quarantine label, selected by one deny-all
 * NetworkPolicy per namespace). The TTL or `release` undoes both. Kept in `stateFile`, so a
 * restarted agent re-applies the node-local half of what is still due and releases what expired.
 */
export class PodIsolations {
  private readonly records = new Map<string, IsolationRecord>();
  private readonly timers = new Map<string, ClockTimer>();
  private readonly clock: Clock;

  constructor(private readonly opts: PodIsolationsOptions) {
    this.clock = opts.clock ?? SYSTEM_CLOCK;
  }

  /** Loads the kept isolations: expired ones are released, the others re-applied on this node. */
  async start(): Promise<void> {
    if (!existsSync(this.opts.stateFile)) return;
    let kept: IsolationRecord[] = [];
    try {
      if (statSync(this.opts.stateFile).size > MAX_STATE_BYTES)
        throw new Error(`larger than ${MAX_STATE_BYTES} bytes: not written by Peregrine`);
      const parsed = JSON.parse(readFileSync(this.opts.stateFile, 'utf8')) as { isolations?: unknown } | null;
      if (!Array.isArray(parsed?.isolations)) throw new Error('no list of isolations');
      kept = parsed.isolations.filter(validRecord);
    } catch (err) {
      this.opts.log.error(
        { file: this.opts.stateFile, err: errorMessage(err) },
        'isolations: the state file cannot be read; isolations made before this start are not re-applied',
      );
      return;
    }
    for (const r of kept.slice(0, MAX_RECORDS)) {
      this.records.set(key(r.namespace, r.pod), r);
      if (r.until <= this.clock.now()) await this.release(r.namespace, r.pod, 'expired while the agent was down');
      else {
        const pid = await this.opts.netnsPid(r.namespace, r.pod).catch(() => undefined);
        if (pid) await isolateNetns(pid, r.allowDns).catch((err: unknown) => this.warn(r, err));
        this.schedule(r);
        this.opts.log.info(
          { pod: key(r.namespace, r.pod), until: new Date(r.until).toISOString() },
          'isolation re-applied',
        );
      }
    }
    this.save();
  }

  list(): IsolationRecord[] {
    return [...this.records.values()];
  }

  /** Isolates a pod for `ttlMs`; `pidHint` (the event's process) is used when the runtime cannot name a pid. */
  async isolate(
    r: Omit<IsolationRecord, 'until'> & { readonly ttlMs: number; readonly pidHint?: number },
  ): Promise<IsolationResult> {
    const record: IsolationRecord = {
      namespace: r.namespace,
      pod: r.pod,
      uid: r.uid,
      allowDns: r.allowDns,
      until: this.clock.now() + r.ttlMs,
    };
    let nodeLocal: string;
    let nodeLocalAt: number | undefined;
    let ok = false;
    try {
      const pid =
        (await this.opts.netnsPid(r.namespace, r.pod).catch(() => undefined)) ??
        (r.pidHint && existsSync(`/proc/${r.pidHint}/ns/net`) ? r.pidHint : undefined);
      if (!pid) nodeLocal = 'no process of the pod found on this node';
      else {
        await isolateNetns(pid, r.allowDns);
        nodeLocalAt = Date.now();
        nodeLocal = `nftables table in the pod's network namespace (pid ${pid})`;
        ok = true;
      }
    } catch (err) {
      nodeLocal = `failed: ${errorMessage(err)}`;
    }
    let durable: string;
    const pods = this.opts.pods;
    if (!pods) durable = 'no Kubernetes API: no label or NetworkPolicy';
    else
      try {
        await pods.ensureQuarantinePolicy(r.namespace, r.allowDns);
        await pods.patchLabels(r.namespace, r.pod, r.uid, { [QUARANTINE_LABEL]: r.allowDns ? 'dns' : 'true' });
        durable = `label ${QUARANTINE_LABEL} and NetworkPolicy peregrine-quarantine`;
        ok = true;
      } catch (err) {
        durable = `failed: ${errorMessage(err)}`;
      }
    if (ok) {
      this.records.set(key(r.namespace, r.pod), record);
      this.schedule(record);
      this.save();
    }
    return { nodeLocal, nodeLocalAt, durable, ok };
  }

  /** Undoes an isolation (label removed, table deleted); false when the pod was not isolated. */
  async release(namespace: string, pod: string, why: string): Promise<boolean> {
    const k = key(namespace, pod);
    const r = this.records.get(k);
    if (!r) return false;
    this.clock.clear(this.timers.get(k));
    this.timers.delete(k);
    this.records.delete(k);
    this.save();
    const pid = await this.opts.netnsPid(namespace, pod).catch(() => undefined);
    if (pid) await releaseNetns(pid).catch((err: unknown) => this.warn(r, err));
    if (this.opts.pods)
      await this.opts.pods
        .patchLabels(namespace, pod, r.uid, { [QUARANTINE_LABEL]: null })
        .catch((err: unknown) => this.warn(r, err));
    this.opts.log.info({ pod: k, why }, 'isolation released');
    return true;
  }

  /** Stops the TTL timers; what is isolated stays isolated and is kept on disk. */
  shutdown(): void {
    for (const t of this.timers.values()) this.clock.clear(t);
    this.timers.clear();
  }

  private schedule(r: IsolationRecord): void {
    const k = key(r.namespace, r.pod);
    this.clock.clear(this.timers.get(k));
    const ms = Math.max(0, r.until - this.clock.now());
    this.timers.set(
      k,
      this.clock.setTimeout(() => void this.release(r.namespace, r.pod, 'TTL expired'), Math.min(ms, 2 ** 31 - 1)),
    );
  }

  private save(): void {
    try {
      mkdirSync(dirname(this.opts.stateFile), { recursive: true, mode: 0o700 });
      const tmp = `${this.opts.stateFile}.tmp`;
      writeFileSync(tmp, JSON.stringify({ isolations: this.list() }), { mode: 0o600 });
      renameSync(tmp, this.opts.stateFile);
    } catch (err) {
      this.opts.log.error(
        { file: this.opts.stateFile, err: errorMessage(err) },
        'isolations: cannot keep the state file; an agent restart will not re-apply or expire them',
      );
    }
  }

  private warn(r: IsolationRecord, err: unknown): void {
    this.opts.log.warn({ pod: key(r.namespace, r.pod), err: errorMessage(err) }, 'isolation: a step failed');
  }
}

function key(namespace: string, pod: string): string {
  return `${namespace}/${pod}`;
}
