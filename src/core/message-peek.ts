// Reads the few properties a queue needs at recovery (priority, expiration, persistent) straight from a
// record's `jx.p` header (format in message-codec.ts, names in message-format.ts), without decoding the message: no strings, no headers
// table, no allocation. Fields 0–8 (strings) are skipped by length; priority, expirationMs and persistent
// follow them in bit order.
import type { Record } from '../storage/log/record-batch.js';
import { Bit, PROPERTIES_FORMAT_VERSION, PROPERTIES_HEADER_KEY, STRING_PROPS } from './message-format.js';

/** What recovery needs of a stored message. `persistent` is undefined when the message does not say. */
export interface PeekedProperties {
  priority: number;
  expirationMs: number | undefined;
  persistent: boolean | undefined;
}

/** Bits 0 .. STRING_FIELDS-1 are the string properties, in bit order. */
const STRING_FIELDS = STRING_PROPS.length;

/**
 * Fills `out` from the record's properties header. A record without one (e.g. a Kafka record) has none of
 * them; a malformed one is reported as such (false returned, `out` reset): the full decode at delivery
 * decides what happens to it.
 */
export function peekProperties(rec: Record, out: PeekedProperties): boolean {
  out.priority = 0;
  out.expirationMs = undefined;
  out.persistent = undefined;
  const hs = rec.headers;
  let v: Buffer | null = null;
  for (let i = 0; i < hs.length; i++) {
    if (hs[i]!.key === PROPERTIES_HEADER_KEY) {
      v = hs[i]!.value;
      break;
    }
  }
  if (v === null) return true;
  if (v.length < 3 || v[0] !== PROPERTIES_FORMAT_VERSION) return false;
  const bits = v.readUInt16BE(1);
  let p = 3;
  for (let b = 0; b < STRING_FIELDS; b++) {
    if ((bits & (1 << b)) === 0) continue;
    // uvarint length, at most 5 bytes
    let len = 0;
    let shift = 0;
    for (;;) {
      if (p >= v.length || shift > 28) return false;
      const byte = v[p++]!;
      len += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    p += len;
  }
  if (bits & Bit.Priority) {
    if (p + 1 > v.length) return false;
    out.priority = v[p++]!;
  }
  if (bits & Bit.ExpirationMs) {
    if (p + 8 > v.length) return false;
    out.expirationMs = v.readDoubleBE(p);
    p += 8;
  }
  if (bits & Bit.Persistent) {
    if (p + 1 > v.length) return false;
    out.persistent = v[p] === 1;
  }
  return true;
}
