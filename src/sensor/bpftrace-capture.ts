import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage } from '../event/index.js';
import { Backoff } from '../transport/index.js';
import { silentLogger, type Logger } from '../telemetry/index.js';
import type { SensorEvent } from './batch-encoder.js';
import { BpftraceAssembler } from './bpftrace-assembler.js';
import { TRACEFS_SYSCALLS, bpftraceProgram } from './bpftrace-program.js';
import { deadlineIn, msLeft, type Deadline } from '../lifecycle.js';

export interface CaptureOptions {
  readonly bpftrace: string;
  /** A pid whose activity is not captured besides this process (the agent). */
  readonly ignorePid?: number;
  /** Called with batches of events, in order. */
  readonly onEvents: (events: SensorEvent[]) => void;
  /** Called with the number of events the kernel or parsing lost. */
  readonly onLost?: (n: number) => void;
  readonly logger?: Logger;
  /** How long to gather events before handing them over. */
  readonly flushMs?: number;
  /**
   * Kernel ring buffer per CPU, in 4 KiB pages (default 1024 = 4 MiB): absorbs bursts while
   * bpftrace catches up. Memory is locked per CPU: lower it on nodes with many cores.
   */
  readonly ringPagesPerCpu?: number;
  /** Called when capturing starts or stops (bpftrace died; restarts keep failing), with why. */
  readonly onState?: (capturing: boolean, reason: string) => void;
  /** First and longest pause between restarts of a dead bpftrace (default 1 s and 60 s). */
  readonly restartBackoff?: { readonly baseMs: number; readonly maxMs: number };
}

/** Temporary directories of sensors: `peregrine-sensor-<pid>-XXXXXX`. */
const TMP_PREFIX = 'peregrine-sensor-';

/**
 * Removes the temporary directories that sensors which are no longer running left behind
 * (killed with SIGKILL, say). A directory whose owner process still runs is kept.
 */
export function removeStaleSensorDirs(dir = tmpdir()): number {
  let removed = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = new RegExp(`^${TMP_PREFIX}(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === process.pid || existsSync(`/proc/${m[1]}`)) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed++;
    } catch {
      /* not ours to remove (permissions): left alone */
    }
  }
  return removed;
}

/** Counters of the capture. */
export interface CaptureStats {
  events: number;
  /** Events bpftrace reported lost (kernel perf buffer overruns). */
  kernelLost: number;
  /** Lines or events that could not be parsed. */
  parseErrors: number;
  restarts: number;
  /** Restart attempts that failed (bpftrace could not attach again). */
  restartFailures: number;
}

/**
 * Runs the bpftrace program as a child process and turns its output into sensor events.
 * Never gives up: if bpftrace dies it is restarted with backoff (1 s doubling to 60 s, with
 * jitter), forever, and while it is not capturing `capturing` is false with the reason
 * (`onState` is told at each change). bpftrace gets SIGKILL when this process dies, however it
 * dies (parent-death signal), so no capture outlives its agent.
 * Lifecycle (src/lifecycle.ts): `start()` resolves once the probes are attached; `shutdown()` is idempotent.
 */
export class BpftraceCapture {
  readonly stats: CaptureStats = { events: 0, kernelLost: 0, parseErrors: 0, restarts: 0, restartFailures: 0 };
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private capturingNow = false;
  private why = 'not started';
  private readonly backoff: Backoff;
  private readonly tmpDir: string;
  private readonly log: Logger;
  private assembler!: BpftraceAssembler;

  /** Pid of the running bpftrace (for CPU accounting). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Recent lines the assembler could not parse (diagnostics). */
  get badLines(): readonly string[] {
    return this.assembler?.badLines ?? [];
  }
  private readonly programFile: string;

  constructor(private readonly opts: CaptureOptions) {
    this.log = opts.logger ?? silentLogger();
    this.backoff = new Backoff(opts.restartBackoff?.baseMs ?? 1_000, opts.restartBackoff?.maxMs ?? 60_000);
    removeStaleSensorDirs();
    this.tmpDir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-`));
    this.programFile = join(this.tmpDir, 'peregrine.bt');
    writeFileSync(
      this.programFile,
      bpftraceProgram((sc) => existsSync(`${TRACEFS_SYSCALLS}/sys_enter_${sc}`)),
      { mode: 0o600 },
    );
  }

  /** Whether bpftrace is attached and capturing now. */
  get capturing(): boolean {
    return this.capturingNow;
  }

  /** Why the capture is not capturing ('' while it is). */
  get reason(): string {
    return this.capturingNow ? '' : this.why;
  }

  private setState(capturing: boolean, reason: string): void {
    const changed = capturing !== this.capturingNow;
    this.capturingNow = capturing;
    this.why = reason;
    if (changed) this.opts.onState?.(capturing, reason);
  }

  /** Starts bpftrace; resolves when its probes are attached (or rejects with its error). */
  start(): Promise<void> {
    // Kernel monotonic ns (bpftrace's nsecs) → wall clock: both clocks read now.
    const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    this.assembler = new BpftraceAssembler(offset);
    return this.spawn();
  }

  private spawn(): Promise<void> {
    // `exec` keeps the shell's pid for bpftrace, so $$ tells the program its own pid ($1).
    // setpriv sets the parent-death signal, which survives the execs: SIGKILL of this process
    // takes bpftrace with it.
    const [cmd, ...pre] = existsSync('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', '/bin/sh']
      : ['/bin/sh'];
    const child = spawn(
      cmd,
      [
        ...pre,
        '-c',
        'exec "$0" "$1" "$$" "$2" "$3"',
        this.opts.bpftrace,
        this.programFile,
        String(process.pid),
        String(this.opts.ignorePid ?? process.pid),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          BPFTRACE_STRLEN: '200',
          BPFTRACE_MAP_KEYS_MAX: '65536',
          BPFTRACE_PERF_RB_PAGES: String(this.opts.ringPagesPerCpu ?? 1024),
        },
      },
    );
    this.child = child;
    const out: SensorEvent[] = [];
    let stderr = '';
    const flush = (): void => {
      // A record's lines are written by one probe but can reach us in separate reads when
      // bpftrace is descheduled between them (a busy node): 50 ms of silence completes it.
      this.assembler.flush(out, 50);
      this.deliver(out);
    };
    return new Promise((resolve, reject) => {
      let ready = false;
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (line) => {
        if (!ready && line.startsWith('READY')) {
          ready = true;
          this.backoff.reset();
          this.setState(true, '');
          resolve();
          return;
        }
        const lost = /^Lost (\d+) events/.exec(line);
        if (lost) return this.lost(Number(lost[1]));
        const before = this.assembler.stats.parseErrors;
        this.assembler.line(line, out);
        if (this.assembler.stats.parseErrors > before) this.lost(this.assembler.stats.parseErrors - before, true);
        if (out.length >= 1024) this.deliver(out);
      });
      child.stderr.on('data', (c: Buffer) => {
        const text = c.toString();
        for (const m of text.matchAll(/Lost (\d+) events/g)) this.lost(Number(m[1]));
        stderr = (stderr + text).slice(-4000);
      });
      this.timer = setInterval(flush, this.opts.flushMs ?? 20);
      child.on('exit', (code, signal) => {
        clearInterval(this.timer);
        rl.close();
        this.assembler.flush(out, 0);
        this.deliver(out);
        const why = `bpftrace exited (${signal ?? code}): ${
          stderr
            .split('\n')
            .filter((l) => /ERROR|error/.test(l))
            .slice(-3)
            .join(' | ') || 'no error output'
        }`;
        if (!ready) return reject(new Error(why));
        if (this.stopped) return;
        this.setState(false, why);
        this.stats.restarts++;
        this.scheduleRestart(why);
      });
    });
  }

  /** Restarts bpftrace after a pause that grows while restarts keep failing; forever. */
  private scheduleRestart(why: string): void {
    const delay = this.backoff.next();
    this.log.error(
      { why, restartInMs: delay, attempt: this.backoff.attempts },
      'sensor: bpftrace is not capturing; restarting',
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.spawn().catch((err: unknown) => {
        if (this.stopped) return;
        this.stats.restartFailures++;
        this.setState(false, `bpftrace restart failed: ${errorMessage(err)}`);
        this.scheduleRestart(errorMessage(err));
      });
    }, delay);
    this.restartTimer.unref();
  }

  private lost(n: number, parse = false): void {
    if (parse) this.stats.parseErrors += n;
    else this.stats.kernelLost += n;
    this.opts.onLost?.(n);
  }

  private deliver(out: SensorEvent[]): void {
    if (out.length === 0) return;
    const batch = out.splice(0);
    this.stats.events += batch.length;
    this.opts.onEvents(batch);
  }

  /** Stops bpftrace (SIGINT, then SIGKILL at `deadline`) and removes its files. Idempotent. */
  async shutdown(deadline: Deadline = deadlineIn(3_000)): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.capturingNow = false; // no onState: stopping is not a failure
    this.why = 'stopped';
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) await this.terminate(child, msLeft(deadline));
    rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** Kills the running bpftrace without stopping the capture (tests: a crash; it restarts). */
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
      child.kill('SIGINT');
    });
  }
}
