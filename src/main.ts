/** Composition root: the only place that exits the process. */
import { runCli } from './cli/index.js';

// A reader that goes away (`peregrine plugins list | head`) ends the output, not with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
process.exitCode = code;
// Whatever a command leaves behind (a peer that holds a socket open, a stuck child) cannot keep
// the process alive past this: the timer does not itself keep the process running, so normal
// exits (output flushed) are not delayed.
setTimeout(() => process.exit(code), 2_000).unref();
