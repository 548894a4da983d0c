/** Bad command-line usage: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Where a command writes; injected so commands are testable in-process. */
export interface CommandIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
}

/** A command's implementation, in its own module (loaded only when the command runs). */
export interface CommandImpl {
  /** Returns the process exit code. Throws {@link UsageError} for bad arguments. */
  run(args: readonly string[], io: CommandIO): Promise<number>;
}

/** A subcommand as `--help` lists it: its name as typed, a one-line summary, usage text, and its loader. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  load(): Promise<CommandImpl>;
}
