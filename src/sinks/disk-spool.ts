import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './write-file-atomic.js';
import { ioErrorText, asError } from '../event/index.js';

export interface DiskSpoolOptions {
  /** Bytes on disk at most; beyond, the oldest segments are deleted and their records counted as dropped. */
  readonly maxBytes: number;
  /** Bytes per segment file (default: maxBytes / 16, at most 1 MiB). */
  readonly segmentBytes?: number;
  /**
   * Records lost: deleted unread because the spool was full (`spool_full`), or not written or
   * not readable because of an I/O error (`spool_io_error`, with the error).
   */
  readonly onDrop?: (records: number, reason: 'spool_full' | 'spool_io_error', err?: Error) => void;
}

/** A spool directory that cannot be used: says which and what to do. */
export class SpoolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpoolError';
  }
}

interface Segment {
  readonly id: number;
  bytes: number;
  records: number;
}

/** The segment being read: its lines loaded, `idx` the next to hand out. */
interface ReadState {
  readonly id: number;
  lines: string[];
  idx: number;
  loadedBytes: number;
}

const SEGMENT = /^(\d{10})\.jsonl$/;
const CURSOR = 'cursor.json';
/** Appends are written together once per tick, or at once beyond this many bytes. */
const FLUSH_BYTES = 256 * 1024;
/** The read position is saved at least this often while records are being read. */
const CHECKPOINT_MS = 1_000;

/**
 * A bounded first-in-first-out queue of text records (one line each) on disk: segment files
 * `0000000001.jsonl`, … in one directory, and `cursor.json` (the segment and line read up to).
 * Survives restarts: records appended and not yet read are read after the next `open`.
 *
 * Contract: `append`, `flush`, `shift` and `close` never throw once open. A full spool deletes its
 * oldest segments, counted (`onDrop`); an I/O error loses only the records it touched, counted
 * (`onDrop`, `spool_io_error`). Appends reach the disk within one event-loop tick (or at once when large) and on
 * `close`; the read position is saved at least once a second and on `close`, so a process
 * killed without warning re-reads at most a second of records (duplicates, never gaps). Each
 * process appends to a new segment, so a torn last line from a crash stays one bad record.
 * Synchronous file I/O, batched: a spool is used while a receiver is down, not per alert normally.
 */
export class DiskSpool {
  private readonly segments: Segment[] = [];
  private read: ReadState | undefined;
  private pending: string[] = [];
  /** Bytes of each pending record, newline included (measured once, in `append`). */
  private pendingSizes: number[] = [];
  private pendingBytes = 0;
  private count = 0;
  private diskBytes = 0;
  private flushScheduled = false;
  private lastCheckpoint = 0;
  private cursorDirty = false;
  private closed = false;
  private readonly segmentBytes: number;

  private constructor(
    readonly dir: string,
    private readonly opts: DiskSpoolOptions,
  ) {
    this.segmentBytes = Math.max(4096, opts.segmentBytes ?? Math.min(1024 * 1024, Math.floor(opts.maxBytes / 16)));
  }

  /** Opens (creating) the spool in `dir`; throws SpoolError when the directory cannot be used. */
  static open(dir: string, opts: DiskSpoolOptions): DiskSpool {
    const s = new DiskSpool(dir, opts);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      s.load();
    } catch (err) {
      throw new SpoolError(
        `spool directory ${dir}: ${ioErrorText(err)}; make it writable by the agent (DaemonSet: a hostPath volume) or disable spooling for this sink (spool: false)`,
        { cause: err },
      );
    }
    return s;
  }

  private load(): void {
    let cursor = { segment: 0, line: 0 };
    try {
      const c = JSON.parse(readFileSync(join(this.dir, CURSOR), 'utf8')) as { segment?: unknown; line?: unknown };
      if (Number.isInteger(c.segment) && Number.isInteger(c.line))
        cursor = { segment: c.segment as number, line: c.line as number };
    } catch {
      // no cursor yet (or unreadable): read every segment from its start — duplicates, never gaps
    }
    const ids = readdirSync(this.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const id of ids) {
      const path = this.path(id);
      if (id < cursor.segment) {
        unlinkSync(path); // fully read before the restart
        continue;
      }
      const text = readFileSync(path, 'utf8');
      if (!text) {
        unlinkSync(path); // an earlier run's segment that never got a record
        continue;
      }
      const lines = countLines(text);
      const skip = id === cursor.segment ? Math.min(cursor.line, lines) : 0;
      if (skip === lines) {
        unlinkSync(path); // read to its end before the restart
        continue;
      }
      const bytes = Buffer.byteLength(text);
      this.segments.push({ id, bytes, records: lines });
      this.diskBytes += bytes;
      this.count += lines - skip;
      if (id === cursor.segment && skip > 0) this.read = { id, lines: splitLines(text), idx: skip, loadedBytes: bytes };
    }
    // this process writes to a segment of its own (a torn line from a crash stays one bad record)
    const next = (ids.at(-1) ?? 0) + 1;
    writeFileSync(this.path(next), '', { flag: 'a', mode: 0o600 });
    this.segments.push({ id: next, bytes: 0, records: 0 });
  }

  private path(id: number): string {
    return join(this.dir, `${String(id).padStart(10, '0')}.jsonl`);
  }

  /** Records waiting (appended, not yet read). */
  get size(): number {
    return this.count;
  }

  /** Bytes on disk and waiting to be written. */
  get bytes(): number {
    return this.diskBytes + this.pendingBytes;
  }

  /** Appends records (each one line: no `\n` inside). */
  append(records: readonly string[]): void {
    if (this.closed) {
      if (records.length)
        this.opts.onDrop?.(records.length, 'spool_io_error', new SpoolError(`spool ${this.dir} is closed`));
      return;
    }
    for (const r of records) {
      const bytes = Buffer.byteLength(r) + 1;
      this.pending.push(r);
      this.pendingSizes.push(bytes);
      this.pendingBytes += bytes;
    }
    this.count += records.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        if (!this.closed) this.flush();
      });
    }
  }

  /** Writes pending appends to disk, enforcing the size bound; saves the read position if due. */
  flush(): void {
    if (this.pending.length) {
      const pending = this.pending;
      const sizes = this.pendingSizes;
      this.pending = [];
      this.pendingSizes = [];
      this.pendingBytes = 0;
      let chunk: string[] = [];
      let chunkBytes = 0;
      for (let i = 0; i < pending.length; i++) {
        const r = pending[i];
        const bytes = sizes[i];
        const w = this.segments.at(-1)!;
        if (w.bytes + chunkBytes > 0 && w.bytes + chunkBytes + bytes > this.segmentBytes) {
          this.writeSegment(chunk, chunkBytes);
          chunk = [];
          chunkBytes = 0;
          this.segments.push({ id: w.id + 1, bytes: 0, records: 0 });
        }
        chunk.push(r);
        chunkBytes += bytes;
      }
      this.writeSegment(chunk, chunkBytes);
      this.enforceBound();
    }
    if (this.cursorDirty && Date.now() - this.lastCheckpoint >= CHECKPOINT_MS) this.checkpoint();
  }

  /**
   * Appends whole records to the segment being written. On an I/O error (disk full) the records
   * are counted as lost and the next records go to a new segment (a partial write stays behind
   * as at most one bad line).
   */
  private writeSegment(records: readonly string[], bytes: number): void {
    if (!records.length) return;
    const w = this.segments.at(-1)!;
    try {
      const fd = openSync(this.path(w.id), 'a', 0o600);
      try {
        writeSync(fd, records.join('\n') + '\n');
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.count -= records.length;
      this.opts.onDrop?.(records.length, 'spool_io_error', asError(err));
      try {
        w.bytes = statSync(this.path(w.id)).size; // what did reach the disk is read (and judged) later
      } catch {
        // the file is gone: nothing of it will be read
      }
      this.diskBytes = this.segments.reduce((n, s) => n + s.bytes, 0);
      this.segments.push({ id: w.id + 1, bytes: 0, records: 0 });
      return;
    }
    w.bytes += bytes;
    w.records += records.length;
    this.diskBytes += bytes;
  }

  /** Deletes the oldest segments while over the bound (the segment being written is kept). */
  private enforceBound(): void {
    while (this.diskBytes > this.opts.maxBytes && this.segments.length > 1) {
      const oldest = this.segments.shift()!;
      const unread = this.read?.id === oldest.id ? this.read.lines.length - this.read.idx : oldest.records;
      if (this.read?.id === oldest.id) this.read = undefined;
      this.unlink(oldest.id);
      this.diskBytes -= oldest.bytes;
      this.count -= unread;
      this.cursorDirty = true;
      if (unread > 0) this.opts.onDrop?.(unread, 'spool_full');
    }
  }

  /** The oldest record, removed from the spool; undefined when empty. */
  shift(): string | undefined {
    for (;;) {
      if (this.count === 0) return undefined;
      const seg = this.segments[0];
      if (!this.read) {
        if (seg === this.segments.at(-1)) this.flush(); // the segment being written: its pending records first
        let text = '';
        try {
          if (seg.bytes > 0) text = readFileSync(this.path(seg.id), 'utf8');
        } catch (err) {
          // unreadable (removed or damaged from outside): its records are lost, counted
          this.count -= seg.records;
          if (seg.records) this.opts.onDrop?.(seg.records, 'spool_io_error', asError(err));
          if (this.segments.length === 1) {
            seg.records = 0;
            seg.bytes = 0;
            return undefined;
          }
          this.retire(seg);
          continue;
        }
        this.read = { id: seg.id, lines: splitLines(text), idx: 0, loadedBytes: Buffer.byteLength(text) };
      }
      const r = this.read;
      if (r.idx < r.lines.length) {
        this.count--;
        this.cursorDirty = true;
        const record = r.lines[r.idx++];
        if (r.idx === r.lines.length && this.segments.length > 1 && r.loadedBytes >= seg.bytes) this.retire(seg);
        return record;
      }
      // appended since it was loaded (it is, or was until lately, the segment being written)
      if (this.segments.length === 1) this.flush();
      if (r.loadedBytes < seg.bytes) {
        let tail = '';
        try {
          tail = readTail(this.path(seg.id), r.loadedBytes);
        } catch {
          // cut short from outside: move on (below)
        }
        r.loadedBytes = tail ? r.loadedBytes + Buffer.byteLength(tail) : seg.bytes; // a file cut short from outside: move on
        r.lines.push(...splitLines(tail));
        continue;
      }
      if (this.segments.length === 1) return undefined;
      this.retire(seg);
    }
  }

  /** Deletes the oldest segment, read to its end. */
  private retire(seg: Segment): void {
    this.unlink(seg.id);
    this.diskBytes -= seg.bytes;
    this.segments.shift();
    this.read = undefined;
    this.checkpoint();
  }

  private unlink(id: number): void {
    try {
      unlinkSync(this.path(id));
    } catch {
      // already gone
    }
  }

  /**
   * Saves the read position (atomically: write aside, rename). When it cannot be saved, the
   * next start reads from the last saved position: duplicates, never gaps.
   */
  private checkpoint(): void {
    const position = this.read
      ? { segment: this.read.id, line: this.read.idx }
      : { segment: this.segments[0]?.id ?? 0, line: 0 };
    try {
      writeFileAtomic(join(this.dir, CURSOR), JSON.stringify(position));
      this.cursorDirty = false;
    } catch {
      // retried at the next checkpoint
    }
    this.lastCheckpoint = Date.now();
  }

  /** Writes pending appends and the read position. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.checkpoint();
    this.closed = true;
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return text.length && !text.endsWith('\n') ? n + 1 : n; // a torn last line counts (it is read, and found bad)
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function readTail(path: string, from: number): string {
  const size = statSync(path).size;
  if (size <= from) return '';
  const buf = Buffer.alloc(size - from);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}
