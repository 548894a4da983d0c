import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger, type Logger } from '../telemetry/index.js';
import type { SensorEvent } from './batch-encoder.js';
import { BpftraceAssembler } from './bpftrace-assembler.js';
import { TRACEFS_SYSCALLS, bpftraceProgram } from './bpftrace-program.js';

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
}

/** Counters of the capture. */
export interface CaptureStats {
  events: number;
  /** Events bpftrace reported lost (kernel perf buffer overruns). */
  kernelLost: number;
  /** Lines or events that could not be parsed. */
  parseErrors: number;
  restarts: number;
}

/**
 * Runs the bpftrace program as a child process and turns its output into sensor events.
 * Keeps running: if bpftrace dies it is restarted (after a pause), and the failure is logged.
 * Lifecycle: `start()` resolves once the probes are attached; `stop()` is idempotent.
 */
export class BpftraceCapture {
  readonly stats: CaptureStats = { events: 0, kernelLost: 0, parseErrors: 0, restarts: 0 };
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
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
    this.programFile = join(mkdtempSync(join(tmpdir(), 'peregrine-sensor-')), 'peregrine.bt');
    writeFileSync(this.programFile, bpftraceProgram((sc) => existsSync(`${TRACEFS_SYSCALLS}/sys_enter_${sc}`)));
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
    const child = spawn('/bin/sh', ['-c', 'exec "$0" "$1" "$$" "$2" "$3"', this.opts.bpftrace, this.programFile, String(process.pid), String(this.opts.ignorePid ?? process.pid)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_PERF_RB_PAGES: String(this.opts.ringPagesPerCpu ?? 1024) },
    });
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
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        if (!ready && line.startsWith('READY')) {
          ready = true;
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
      child.stderr!.on('data', (c: Buffer) => {
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
        const why = `bpftrace exited (${signal ?? code}): ${stderr.split('\n').filter((l) => /ERROR|error/.test(l)).slice(-3).join(' | ') || 'no error output'}`;
        if (!ready) return reject(new Error(why));
        if (this.stopped) return;
        this.stats.restarts++;
        this.log.error({ why }, 'sensor: bpftrace stopped; restarting in 2 s');
        setTimeout(() => {
          if (!this.stopped) this.spawn().catch((err: Error) => this.log.error({ err: err.message }, 'sensor: bpftrace restart failed'));
        }, 2_000).unref();
      });
    });
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

  /** Stops bpftrace (SIGINT, then SIGKILL after `deadlineMs`). Idempotent. */
  async stop(deadlineMs = 3_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
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
