import { createInterface } from 'node:readline';
import { EventDecodeError, type FlatEventDecoder, type SyscallEvent } from '../event/index.js';

/** What a replay read: an event, or a bad line (with its number and why). */
export type ReplayItem = { readonly event: SyscallEvent; readonly line: number } | { readonly error: EventDecodeError; readonly line: number };

/**
 * Reads JSON Lines events from a stream, one event per line, in order. Blank lines are
 * skipped; a bad line yields an error item (the caller counts it and decides whether to stop).
 */
export async function* readReplay(input: NodeJS.ReadableStream, decoder: FlatEventDecoder): AsyncGenerator<ReplayItem> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue;
    try {
      yield { event: decoder.decodeLine(line, lineNo), line: lineNo };
    } catch (err) {
      if (err instanceof EventDecodeError) yield { error: err, line: lineNo };
      else throw err;
    }
  }
}
