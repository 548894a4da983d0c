import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DiagnosticBag } from '../lang/index.js';
import { ioErrorText } from '../event/index.js';
import { MAX_RULES_FILE_BYTES, MAX_RULES_TOTAL_BYTES, readRuleFile } from './rule-file-reader.js';
import type { RuleFile } from './rule-items.js';

/**
 * Reads rules from paths in order. A directory contributes its `*.yaml`/`*.yml` files sorted by
 * name (as Falco does for rules directories), except rule test files (`*.test.yaml`). Unreadable paths become diagnostics.
 */
export function readRuleSources(paths: readonly string[], bag: DiagnosticBag): RuleFile[] {
  const out: RuleFile[] = [];
  let total = 0;
  for (const p of paths) {
    let files: string[];
    try {
      files = statSync(p).isDirectory()
        ? readdirSync(p)
            .filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
            .sort()
            .map((f) => join(p, f))
        : [p];
    } catch (err) {
      bag.add({
        severity: 'error',
        code: 'LOAD_ERR_FILE_READ',
        message: `cannot read rules: ${ioErrorText(err)}: check the path and permissions`,
        file: p,
        line: 1,
        column: 1,
        itemKind: 'file',
        itemName: p,
      });
      continue;
    }
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readBounded(f, MAX_RULES_FILE_BYTES + 1);
      } catch (err) {
        bag.add({
          severity: 'error',
          code: 'LOAD_ERR_FILE_READ',
          message: `cannot read rules file: ${ioErrorText(err)}`,
          file: f,
          line: 1,
          column: 1,
          itemKind: 'file',
          itemName: f,
        });
        continue;
      }
      total += bytes.length;
      if (total > MAX_RULES_TOTAL_BYTES) {
        bag.add({
          severity: 'error',
          code: 'LOAD_ERR_LIMIT',
          message: `rules files take more than ${MAX_RULES_TOTAL_BYTES} bytes in all from this file on: load fewer or smaller files`,
          file: f,
          line: 1,
          column: 1,
          itemKind: 'file',
          itemName: f,
        });
        return out;
      }
      out.push(readRuleFile(f, bytes, bag));
    }
  }
  return out;
}

/**
 * Reads at most `max` bytes of a file (a huge file, or a device such as /dev/zero, is not read
 * whole: the reader reports it as too large from the first `max` bytes).
 */
function readBounded(path: string, max: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(max, Math.max(statSync(path).size, 64 * 1024)));
    let n = 0;
    let buffer = buf;
    for (;;) {
      if (n === buffer.length) {
        if (buffer.length >= max) break;
        const bigger = Buffer.allocUnsafe(Math.min(max, buffer.length * 2));
        buffer.copy(bigger, 0, 0, n);
        buffer = bigger;
      }
      const r = readSync(fd, buffer, n, buffer.length - n, null);
      if (r === 0) break;
      n += r;
    }
    return buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
