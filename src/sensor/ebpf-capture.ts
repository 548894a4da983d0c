import { spawn, type ChildProcess } from 'node:child_process';
import { errorMessage } from '../event/index.js';
import { Backoff } from '../transport/index.js';
import { silentLogger, type Logger } from '../telemetry/index.js';
import type { SensorEvent } from './batch-encoder.js';
import { RecordAssembler } from './record-assembler.js';
import { enabledNumbers, specLines } from './syscall-table.js';
import { deadlineIn, msLeft, type Deadline } from '../lifecycle.js';

export interface CaptureOptions {
  /** The loader binary (sensor/loader.c, built into dist/sensor by scripts/setup). */
  readonly loader: string;
  /** A pid whose activity is not captured besides this process and the loader (the agent). */
  readonly ignorePid?: number;
  /** Event types to capture (Falco names); undefined or empty = everything the sensor can. */
  readonly eventTypes?: readonly string[];
  /** Called with batches of events, in order. */
  readonly onEvents: (events: SensorEvent[]) => void;
  /** Called with the number of events the kernel or decoding lost. */
  readonly onLost?: (n: number) => void;
  readonly logger?: Logger;
  /**
   * The kernel ring buffer shared by all CPUs, in bytes (a power of two; default 16 MiB):
   * absorbs bursts while user space catches up. Its memory is locked.
   */
  readonly ringBytes?: number;
  /** Called when capturing starts or stops (the loader died; restarts keep failing), with why. */
  readonly onState?: (capturing: boolean, reason: string) => void;
  /** First and longest pause between restarts of a dead loader (default 1 s and 60 s). */
  readonly restartBackoff?: { readonly baseMs: number; readonly maxMs: number };
}

/** Counters of the capture. */
export interface CaptureStats {
  events: number;
  /** Records the kernel could not queue (ring buffer full), all CPUs. */
  kernelLost: number;
  /** Records that could not be decoded. */
  parseErrors: number;
  restarts: number;
  /** Restart attempts that failed (the loader could not attach again). */
  restartFailures: number;
}

/**
 * Runs the sensor v2 loader (CO-RE eBPF program, binary records over a pipe) and turns its
 * records into sensor events. Never gives up: a dead loader is restarted with backoff (1 s
 * doubling to 60 s, with jitter), forever; while it is not capturing `capturing` is false with
 * the reason (`onState` hears each change). The loader dies with this process (parent-death
 * signal) and when its stdin closes. The kernel emits only the event types asked for
 * ({@link setEventTypes}, plus what the process table needs).
 * Lifecycle (src/lifecycle.ts): `start()` resolves once the probes are attached; `shutdown()` is idempotent.
 */
export class EbpfCapture {
  readonly stats: CaptureStats = { events: 0, kernelLost: 0, parseErrors: 0, restarts: 0, restartFailures: 0 };
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private capturingNow = false;
  private why = 'not started';
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private assembler!: RecordAssembler;
  private enabled: number[];

  constructor(private readonly opts: CaptureOptions) {
    this.log = opts.logger ?? silentLogger();
    this.backoff = new Backoff(opts.restartBackoff?.baseMs ?? 1_000, opts.restartBackoff?.maxMs ?? 60_000);
    this.enabled = enabledNumbers(opts.eventTypes);
  }

  /** Pid of the running loader (CPU accounting, protection from responses). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Records the kernel could not queue, per CPU, since this capture started. */
  get kernelLostPerCpu(): readonly number[] {
    return this.lostPerCpu;
  }
  private readonly lostPerCpu: number[] = [];
  private lostLogged = 0;

  /** Recent records that could not be decoded (diagnostics). */
  get problems(): readonly string[] {
    return this.assembler?.problems ?? [];
  }

  /** Whether the loader is attached and capturing now. */
  get capturing(): boolean {
    return this.capturingNow;
  }

  /** Why the capture is not capturing ('' while it is). */
  get reason(): string {
    return this.capturingNow ? '' : this.why;
  }

  /** The syscall numbers the kernel program emits now. */
  get enabledSyscalls(): readonly number[] {
    return this.enabled;
  }

  /**
   * Restricts the kernel program to `types` (undefined or empty: everything), at once when it
   * runs and on every restart.
   */
  setEventTypes(types: readonly string[] | undefined): void {
    const next = enabledNumbers(types);
    if (next.join(',') === this.enabled.join(',')) return;
    this.enabled = next;
    this.child?.stdin?.write(`enable ${next.join(',')}\n`);
    this.log.info({ syscalls: next.length }, 'sensor: kernel-side event filter updated');
  }

  private setState(capturing: boolean, reason: string): void {
    const changed = capturing !== this.capturingNow;
    this.capturingNow = capturing;
    this.why = reason;
    if (changed) this.opts.onState?.(capturing, reason);
  }

  /** Starts the loader; resolves when its probes are attached (or rejects with its error). */
  start(): Promise<void> {
    return this.spawn();
  }

  private spawn(): Promise<void> {
    // CLOCK_MONOTONIC (the kernel's timestamps) → wall clock: both clocks read now
    const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    const assembler = (this.assembler = new RecordAssembler(offset, this.assembler?.procs));
    const args = ['--ring-bytes', String(this.opts.ringBytes ?? 16 << 20), '--ignore-pid', String(process.pid)];
    if (this.opts.ignorePid !== undefined) args.push('--ignore-pid', String(this.opts.ignorePid));
    const child = spawn(this.opts.loader, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    const out: SensorEvent[] = [];
    let stderr = '';
    const onLost = (n: number): void => {
      // the assembler's per-CPU counts are per loader run: keep a running total across restarts
      const perCpu = assembler.stats.kernelLostPerCpu;
      perCpu.forEach((v, i) => (this.lostPerCpu[i] = (this.lostPerCpu[i] ?? 0) + v));
      perCpu.length = 0;
      this.lost(n);
    };
    return new Promise((resolve, reject) => {
      let ready = false;
      child.stdin.on('error', () => undefined); // a dead loader: its exit says why
      child.stdin.write(`${specLines(new Set(this.enabled)).join('\n')}\nstart\n`);
      child.stdout.on('data', (chunk: Buffer) => {
        const malformed = assembler.stats.malformed;
        assembler.feed(chunk, out, onLost);
        const bad = assembler.stats.malformed - malformed;
        if (bad) {
          this.stats.parseErrors += bad;
          this.opts.onLost?.(bad);
        }
        this.deliver(out);
        if (!ready && assembler.ready) {
          ready = true;
          this.backoff.reset();
          this.setState(true, '');
          resolve();
        }
        if (assembler.framingBroken) child.kill('SIGKILL'); // restarted with a fresh stream
      });
      child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
      child.on('error', (err) => {
        if (!ready) reject(new Error(`the sensor loader ${this.opts.loader} could not run: ${err.message}`));
      });
      child.on('exit', (code, signal) => {
        this.deliver(out);
        const why = `the sensor loader exited (${signal ?? code}): ${
          stderr.trim().split('\n').slice(-3).join(' | ') || 'no error output'
        }`;
        if (!ready) return reject(new Error(why));
        if (this.stopped) return;
        this.setState(false, why);
        this.stats.restarts++;
        this.scheduleRestart(why);
      });
    });
  }

  /** Restarts the loader after a pause that grows while restarts keep failing; forever. */
  private scheduleRestart(why: string): void {
    const delay = this.backoff.next();
    this.log.error(
      { why, restartInMs: delay, attempt: this.backoff.attempts },
      'sensor: the eBPF loader is not capturing; restarting',
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.spawn().catch((err: unknown) => {
        if (this.stopped) return;
        this.stats.restartFailures++;
        this.setState(false, `sensor loader restart failed: ${errorMessage(err)}`);
        this.scheduleRestart(errorMessage(err));
      });
    }, delay);
    this.restartTimer.unref();
  }

  private lost(n: number): void {
    this.stats.kernelLost += n;
    this.opts.onLost?.(n);
    // at most one line every 10 s: losses are counted in the metrics either way
    if (Date.now() - this.lostLogged > 10_000) {
      this.lostLogged = Date.now();
      this.log.warn(
        { lost: this.stats.kernelLost, perCpu: this.lostPerCpu },
        'sensor: the kernel ring buffer was full; records were dropped (raise --ring-bytes, or capture fewer event types)',
      );
    }
  }

  private deliver(out: SensorEvent[]): void {
    if (out.length === 0) return;
    const batch = out.splice(0);
    this.stats.events += batch.length;
    this.opts.onEvents(batch);
  }

  /** Stops the loader (stdin closed, then SIGKILL at `deadline`). Idempotent. */
  async shutdown(deadline: Deadline = deadlineIn(3_000)): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.capturingNow = false; // no onState: stopping is not a failure
    this.why = 'stopped';
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) await this.terminate(child, msLeft(deadline));
  }

  /** Kills the running loader without stopping the capture (tests: a crash; it restarts). */
  killChild(): void {
    this.child?.kill('SIGKILL');
  }

  private terminate(child: ChildProcess, deadlineMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, deadlineMs);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.stdin?.end();
    });
  }
}
