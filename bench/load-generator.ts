/**
 * Synthetic load for the sensor benchmark: opens FILE at RATE per second for MS milliseconds,
 * and runs /bin/true EXECS times spread over that time. Prints `DONE <opens> <execs>`.
 * argv: FILE RATE MS EXECS
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

const [file, rateArg, msArg, execsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const ms = Number(msArg);
const execs = Number(execsArg);
const start = performance.now();
let opens = 0;
let runs = 0;
while (performance.now() - start < ms) {
  const due = Math.floor(((performance.now() - start) / 1000) * rate);
  while (opens < due) {
    closeSync(openSync(file, 'r'));
    opens++;
  }
  const execDue = Math.floor(((performance.now() - start) / ms) * execs);
  if (runs < execDue) {
    spawn('/bin/true', ['peregrine-bench'], { stdio: 'ignore' }); // not awaited: keeps the open rate
    runs++;
  }
}
process.stdout.write(`DONE ${opens} ${runs}\n`);
