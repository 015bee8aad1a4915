// Structured logging: one JSON line per event, quiet (warn) by default. JUNCTION_LOG_LEVEL or --log-level
// raises it. Component loggers are created once per component name; configureLogger() re-levels the ones
// created before it (modules create theirs at import time).
import { pino, type Logger } from 'pino';

export type { Logger };

let root: Logger = pino({ level: process.env.JUNCTION_LOG_LEVEL ?? 'warn', base: undefined });
const children = new Map<string, Logger>();

export function rootLogger(): Logger {
  return root;
}

/** Sets the level (and optionally the destination) of every logger; existing component loggers follow the level. */
export function configureLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  root = destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined });
  if (destination) children.clear();
  for (const c of children.values()) c.level = level;
  return root;
}

export function childLogger(component: string): Logger {
  let c = children.get(component);
  if (!c) children.set(component, (c = root.child({ component })));
  return c;
}
