// Counted warnings for messages that one protocol wrote and another cannot express in full (docs/interop.md):
// a record whose reserved `jx.p` header does not parse, a field an AMQP frame cannot carry, ... Each is
// handled per message (the field is dropped, the message delivered) and counted here; a structured log line
// goes out for the first of each kind and then once per INTEROP_WARNING_LOG_EVERY, so a stream full of
// such records cannot flood the log.
import { childLogger } from '../lib/logger.js';

/** One warning log line per this many occurrences of a kind (the first is always logged). */
export const INTEROP_WARNING_LOG_EVERY = 1000;

export type InteropWarningKind =
  /** A record's `jx.p` header did not parse: delivered without its properties, exchange and routing key. */
  | 'corrupt-properties'
  /** An AMQP delivery could not carry a field (shortstr over 255 bytes, a header value AMQP has no type for, a content header over frame-max): the field was dropped. */
  | 'amqp-field-dropped';

const counts = new Map<InteropWarningKind, number>();
const log = childLogger('interop');

/** Counts one occurrence; logs the first and every INTEROP_WARNING_LOG_EVERY-th. */
export function countInteropWarning(kind: InteropWarningKind, details: { [k: string]: unknown }): void {
  const n = (counts.get(kind) ?? 0) + 1;
  counts.set(kind, n);
  if (n === 1 || n % INTEROP_WARNING_LOG_EVERY === 0) log.warn({ kind, count: n, ...details }, 'message field dropped: it cannot be expressed for this consumer');
}

/** Occurrences of each kind since start (health, tests). */
export function interopWarningCounts(): { [K in InteropWarningKind]: number } {
  return { 'corrupt-properties': counts.get('corrupt-properties') ?? 0, 'amqp-field-dropped': counts.get('amqp-field-dropped') ?? 0 };
}
