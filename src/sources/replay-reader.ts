import { EventDecodeError, MAX_LINE_BYTES, type FlatEventDecoder, type SyscallEvent } from '../event/index.js';

/** What a replay read: an event, or a bad line (with its number and why). */
export type ReplayItem =
  { readonly event: SyscallEvent; readonly line: number } | { readonly error: EventDecodeError; readonly line: number };

/**
 * Reads JSON Lines events from a stream, one event per line, in order. Blank lines are
 * skipped; a bad line yields an error item (the caller counts it and decides whether to stop).
 * A line longer than `maxLineBytes` is never held whole: its bytes are skipped as they arrive
 * and it becomes one bad line, so memory stays bounded whatever the input.
 */
export async function* readReplay(
  input: NodeJS.ReadableStream,
  decoder: FlatEventDecoder,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<ReplayItem> {
  let lineNo = 0;
  for await (const line of boundedLines(input, maxLineBytes)) {
    lineNo++;
    if (line === undefined) {
      yield { error: new EventDecodeError(lineNo, `line longer than ${maxLineBytes} bytes: skipped`), line: lineNo };
      continue;
    }
    if (line.trim() === '') continue;
    try {
      yield { event: decoder.decodeLine(line, lineNo), line: lineNo };
    } catch (err) {
      if (err instanceof EventDecodeError) yield { error: err, line: lineNo };
      else throw err;
    }
  }
}

/** Lines of a stream (LF or CRLF), UTF-8; `undefined` for a line over `max` bytes. */
async function* boundedLines(input: NodeJS.ReadableStream, max: number): AsyncGenerator<string | undefined> {
  let parts: Buffer[] = [];
  let size = 0;
  let overlong = false;
  const end = (): string | undefined => {
    const buf = Buffer.concat(parts);
    parts = [];
    size = 0;
    if (overlong) {
      overlong = false;
      return undefined;
    }
    const n = buf.length && buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
    return buf.toString('utf8', 0, n);
  };
  for await (const chunk of input) {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (;;) {
      const nl = c.indexOf(0x0a, from);
      const stop = nl < 0 ? c.length : nl;
      if (!overlong) {
        size += stop - from;
        if (size > max) {
          overlong = true;
          parts = [];
        } else parts.push(c.subarray(from, stop));
      }
      if (nl < 0) break;
      yield end();
      from = nl + 1;
    }
  }
  if (size > 0 || overlong || parts.length) yield end();
}
