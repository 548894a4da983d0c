/** Composition root: the only place that exits the process. */
import { runCli } from './cli/index.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
process.exitCode = code;
