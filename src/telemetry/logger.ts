import { pino, type Logger as PinoLogger } from 'pino';

/** Structured logger (pino's interface): `log.warn({ source, err }, 'message')`. */
export type Logger = PinoLogger;

/** A JSON logger on stderr at `level`; `silent` for tests and tools. */
export function createLogger(level: string = process.env.PEREGRINE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'peregrine' } }, pino.destination(2));
}

/** A logger that drops everything (tests, one-shot CLI commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
