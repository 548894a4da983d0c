import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/telemetry/index.js';

/** A logger whose JSON lines are kept in `lines` (tests assert what was said, and how often). */
export function memoryLogger(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
