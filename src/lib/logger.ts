// Structured logging: one JSON line per event, quiet (warn) by default. JUNCTION_LOG_LEVEL or --log-level
// raises it.
import { pino, type Logger } from 'pino';

export type { Logger };

let root: Logger = pino({ level: process.env.JUNCTION_LOG_LEVEL ?? 'warn', base: undefined });

export function rootLogger(): Logger {
  return root;
}

export function configureLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  root = destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined });
  return root;
}

export function childLogger(component: string): Logger {
  return root.child({ component });
}
