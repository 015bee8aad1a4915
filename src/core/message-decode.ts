// Record -> message: the decoding half of the message codec (the format is described at the top of
// message-codec.ts). Every read is bounds-checked against `end` first; malformed bytes are BrokerError
// (CorruptData), never an out-of-bounds read.
//
// Policy for records that cannot be decoded (docs/interop.md): decodeMessage never throws for a record's
// reserved header. A stream is shared by every protocol, so one record a Kafka client wrote with a bad `jx.p`
// must not stop another protocol's consumers: its properties are dropped (the record is delivered as a plain
// record: key, value, timestamp and user headers), counted and logged (interop-warnings.ts).
// decodeMessageStrict throws instead (tests, tools).
import type { Record } from '../storage/log/record-batch.js';
import type { FieldTable, FieldValue, Message, MessageHeader, MessageProperties } from './message.js';
import { Bit, FIELD_NESTING_DEPTH_MAX, PROPERTIES_FORMAT_VERSION, PROPERTIES_HEADER_KEY, RESERVED_HEADER_PREFIX, STRING_PROPS, Tag, corrupt } from './message-format.js';
import { countInteropWarning } from './interop-warnings.js';
// Decoding. Every read is bounds-checked against `end` first.

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  need(n: number): void {
    if (n < 0 || this.end - this.pos < n) throw corrupt(`needs ${n} bytes at ${this.pos}, has ${this.end - this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uvarint(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.u8();
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (v > 0xffffffff) break;
        return v;
      }
    }
    throw corrupt(`bad length at ${this.pos}`);
  }

  bytes(): Buffer {
    const n = this.uvarint();
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  str(): string {
    const n = this.uvarint();
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function readFieldValue(r: Reader, depth: number): FieldValue {
  const tag = r.u8();
  const buf = r.buf;
  let p: number;
  switch (tag) {
    case Tag.Void:
      return { type: 'void' };
    case Tag.Bool: {
      const b = r.u8();
      if (b > 1) throw corrupt(`bad bool ${b}`);
      return { type: 'bool', value: b === 1 };
    }
    case Tag.Int8:
      r.need(1);
      return { type: 'int8', value: buf.readInt8(r.pos++) };
    case Tag.Uint8:
      r.need(1);
      return { type: 'uint8', value: buf[r.pos++]! };
    case Tag.Int16:
      r.need(2);
      p = r.pos;
      r.pos += 2;
      return { type: 'int16', value: buf.readInt16BE(p) };
    case Tag.Uint16:
      r.need(2);
      p = r.pos;
      r.pos += 2;
      return { type: 'uint16', value: buf.readUInt16BE(p) };
    case Tag.Int32:
      r.need(4);
      p = r.pos;
      r.pos += 4;
      return { type: 'int32', value: buf.readInt32BE(p) };
    case Tag.Uint32:
      r.need(4);
      p = r.pos;
      r.pos += 4;
      return { type: 'uint32', value: buf.readUInt32BE(p) };
    case Tag.Float:
      r.need(4);
      p = r.pos;
      r.pos += 4;
      return { type: 'float', value: buf.readFloatBE(p) };
    case Tag.Double:
      r.need(8);
      p = r.pos;
      r.pos += 8;
      return { type: 'double', value: buf.readDoubleBE(p) };
    case Tag.Int64:
      r.need(8);
      p = r.pos;
      r.pos += 8;
      return { type: 'int64', value: buf.readBigInt64BE(p) };
    case Tag.Uint64:
      r.need(8);
      p = r.pos;
      r.pos += 8;
      return { type: 'uint64', value: buf.readBigUInt64BE(p) };
    case Tag.Timestamp:
      r.need(8);
      p = r.pos;
      r.pos += 8;
      return { type: 'timestamp', value: buf.readBigUInt64BE(p) };
    case Tag.Decimal:
      r.need(5);
      p = r.pos;
      r.pos += 5;
      return { type: 'decimal', scale: buf[p]!, value: buf.readInt32BE(p + 1) };
    case Tag.Shortstr:
      return { type: 'shortstr', value: r.bytes() };
    case Tag.Longstr:
      return { type: 'longstr', value: r.bytes() };
    case Tag.Bytes:
      return { type: 'bytes', value: r.bytes() };
    case Tag.Table:
      return { type: 'table', value: readFieldTable(r, depth + 1) };
    case Tag.Array: {
      if (depth + 1 > FIELD_NESTING_DEPTH_MAX) throw corrupt('field values nest too deep');
      const n = r.uvarint();
      if (n > r.end - r.pos) throw corrupt(`array count ${n} exceeds the bytes left`);
      const a: FieldValue[] = new Array(n);
      for (let i = 0; i < n; i++) a[i] = readFieldValue(r, depth + 1);
      return { type: 'array', value: a };
    }
    default:
      throw corrupt(`unknown field type tag ${tag}`);
  }
}

function readFieldTable(r: Reader, depth: number): FieldTable {
  if (depth > FIELD_NESTING_DEPTH_MAX) throw corrupt('field tables nest too deep');
  const n = r.uvarint();
  if (n * 2 > r.end - r.pos) throw corrupt(`table count ${n} exceeds the bytes left`);
  const t: FieldTable = new Array(n);
  for (let i = 0; i < n; i++) {
    const name = r.str();
    t[i] = [name, readFieldValue(r, depth)];
  }
  return t;
}

export interface DecodedProperties {
  properties: MessageProperties;
  exchange?: string;
  routingKey?: string;
}

/** Parses a `jx.p` value into `into` (properties, exchange, routingKey). Throws BrokerError(CorruptData). */
export function decodePropertiesInto(value: Buffer, into: DecodedProperties): void {
  const r = new Reader(value, 0, value.length);
  const version = r.u8();
  if (version !== PROPERTIES_FORMAT_VERSION) throw corrupt(`unknown format version ${version}`);
  r.need(2);
  const bits = value.readUInt16BE(1);
  r.pos = 3;
  const p = into.properties;
  for (let i = 0; i < STRING_PROPS.length; i++) if (bits & (1 << i)) p[STRING_PROPS[i]!] = r.str();
  if (bits & Bit.Priority) p.priority = r.u8();
  if (bits & Bit.ExpirationMs) {
    r.need(8);
    p.expirationMs = value.readDoubleBE(r.pos);
    r.pos += 8;
  }
  if (bits & Bit.Persistent) {
    const b = r.u8();
    if (b > 1) throw corrupt(`bad persistent flag ${b}`);
    p.persistent = b === 1;
  }
  if (bits & Bit.TimestampMs) {
    r.need(8);
    p.timestampMs = value.readDoubleBE(r.pos);
    r.pos += 8;
  }
  if (bits & Bit.Headers) p.headers = readFieldTable(r, 1);
  if (bits & Bit.Exchange) into.exchange = r.str();
  if (bits & Bit.RoutingKey) into.routingKey = r.str();
  if (r.pos !== r.end) throw corrupt(`${r.end - r.pos} trailing bytes`);
}

/**
 * Record -> message, strictly: a malformed, null or repeated `jx.p` header throws BrokerError(CorruptData).
 * Key, value and user header values are views of the record's buffers (not copied).
 */
export function decodeMessageStrict(rec: Record): Message {
  return decodeRecord(rec, true)!;
}

/**
 * Record -> message for delivery: never throws for what a record holds. A `jx.p` header that does not parse
 * (or a null or second one) is dropped with the properties, exchange and routing key it would have given;
 * the record's key, value, timestamp and user headers are kept. Counted and logged as an interop warning.
 */
export function decodeMessage(rec: Record): Message {
  try {
    return decodeRecord(rec, false)!;
  } catch (err) {
    countInteropWarning('corrupt-properties', { offset: rec.offset, reason: err instanceof Error ? err.message : String(err) });
    return decodeRecord(rec, null)!;
  }
}

/** strict: throw on a bad reserved header; false: throw too (the caller retries); null: skip it. */
function decodeRecord(rec: Record, strict: boolean | null): Message {
  const headers: MessageHeader[] = [];
  const out: DecodedProperties = { properties: {} };
  let seenProps = false;
  const rh = rec.headers;
  for (let i = 0; i < rh.length; i++) {
    const h = rh[i]!;
    if (h.key.startsWith(RESERVED_HEADER_PREFIX)) {
      if (h.key !== PROPERTIES_HEADER_KEY || strict === null) continue;
      if (seenProps) throw corrupt('more than one properties header');
      if (h.value === null) throw corrupt('null properties header');
      seenProps = true;
      decodePropertiesInto(h.value, out);
    } else headers.push(h);
  }
  const m: Message = { key: rec.key, value: rec.value, timestamp: rec.timestamp, headers, properties: out.properties };
  if (out.exchange !== undefined) m.exchange = out.exchange;
  if (out.routingKey !== undefined) m.routingKey = out.routingKey;
  return m;
}

export function decodeFieldTable(buf: Buffer): FieldTable {
  const r = new Reader(buf, 0, buf.length);
  const t = readFieldTable(r, 1);
  if (r.pos !== r.end) throw corrupt(`${r.end - r.pos} trailing bytes after field table`);
  return t;
}

