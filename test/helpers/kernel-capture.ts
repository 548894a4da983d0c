/**
 * The bundled sensor's capture on the real kernel, for tests: every event kept, waits on a
 * predicate, the event as the agent decodes it, and which upstream and bundled rules fire on it.
 */
import { execFileSync } from 'node:child_process';
import { FieldKeyTable, type SyscallEvent } from '../../src/event/index.js';
import { Engine, loadRules } from '../../src/engine/index.js';
import { EbpfCapture, checkSensorHost, encodeBatch, type SensorEvent } from '../../src/sensor/index.js';
import { BUNDLED_RULES } from '../../src/defaults.js';
import { SensorBatchDecoder } from '../../src/sources/index.js';
import { UPSTREAM_RULES } from './upstream.js';

export interface KernelCapture {
  readonly events: SensorEvent[];
  readonly capture: EbpfCapture;
  readonly table: FieldKeyTable;
  /** The first event (already captured or arriving within `ms`) that `pred` accepts. */
  waitFor(what: string, pred: (e: SensorEvent) => boolean, ms?: number): Promise<SensorEvent>;
  /** The event as the agent sees it: through the sensor API encoding and decoder. */
  agentEvent(e: SensorEvent): SyscallEvent;
  /** Names of the upstream and bundled rules that fire on the event. */
  fired(e: SensorEvent): string[];
  stop(): Promise<void>;
}

/** Starts a capture of everything (in CI a missing prerequisite fails with the reason). */
export async function startKernelCapture(eventTypes?: readonly string[]): Promise<KernelCapture> {
  const events: SensorEvent[] = [];
  const { loader } = checkSensorHost();
  // a large ring: these captures take everything while the suite's busiest tests (npm ci, image
  // builds) run beside them on two cores
  const capture = new EbpfCapture({ loader, eventTypes, ringBytes: 64 << 20, onEvents: (b) => events.push(...b) });
  await capture.start();
  const table = new FieldKeyTable();
  const decoder = new SensorBatchDecoder(table);
  const upstream = new Engine(loadRules(UPSTREAM_RULES, table), { ruleMatching: 'all', hostname: 't' });
  const defaults = new Engine(loadRules([BUNDLED_RULES], table), { ruleMatching: 'all', hostname: 't' });
  const agentEvent = (e: SensorEvent): SyscallEvent => decoder.decode(encodeBatch(1, 1, [e])).events[0];
  return {
    events,
    capture,
    table,
    agentEvent,
    async waitFor(what, pred, ms = 10_000) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`no ${what} event within ${ms} ms; ${events.length} events captured`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    fired(e) {
      const ev = agentEvent(e);
      const out: string[] = [];
      upstream.evaluate(ev, (r) => out.push(r.name));
      defaults.evaluate(ev, (r) => out.push(r.name));
      return out;
    },
    stop: () => capture.shutdown(),
  };
}

/** Runs a command to its end (stdout ignored), failing on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): void {
  execFileSync(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'], input: opts.input, cwd: opts.cwd, timeout: 10_000 });
}
