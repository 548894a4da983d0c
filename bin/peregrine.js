#!/usr/bin/env node
// Thin launcher: the compiled composition root lives in dist/ (built by `npm ci` via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('peregrine: not built yet: run `npm ci` (or `npm run build`) in the project directory first\n');
  process.exit(2);
}
await import(main.href);
