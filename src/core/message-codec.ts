// Message <-> record codec (design.md §1). A Message is stored as one record of a RecordBatch v2: key, value,
// timestamp and the Kafka-style user headers map one to one; the typed properties, the exchange and the
// routing key travel together in ONE reserved record header, `jx.p`, whose value is the compact binary form
// below. A message with none of them gets no reserved header: a Kafka record stays a plain Kafka record.
//
// `jx.p` value (all integers big-endian; uvarint = unsigned LEB128, at most 5 bytes, < 2^32):
//
//   u8   format version (1)
//   u16  presence bits; the fields follow in bit order, each only if its bit is set:
//        bit 0 contentType  1 contentEncoding  2 correlationId  3 replyTo  4 messageId  5 type  6 userId
//        bit 7 appId  8 clusterId                                  -> str
//        bit 9 priority                                            -> u8
//        bit 10 expirationMs                                       -> f64
//        bit 11 persistent                                         -> u8 (0 | 1)
//        bit 12 timestampMs                                        -> f64
//        bit 13 headers                                            -> table
//        bit 14 exchange   15 routingKey                           -> str
//   nothing may follow the last field.
//
//   str   = uvarint byte length, UTF-8 bytes
//   table = uvarint entry count, then per entry: str name, value
//   array = uvarint element count, then the values
//   value = u8 type tag, then the payload:
//     0 void (none)   1 bool (u8 0|1)   2 int8   3 uint8   4 int16   5 uint16   6 int32   7 uint32
//     8 int64 (8 bytes signed)   9 uint64 (8 bytes)   10 float (f32)   11 double (f64)
//     12 decimal (u8 scale, i32 value)   13 timestamp (u64)   14 shortstr   15 longstr   16 bytes
//     (14-16: uvarint length + raw bytes)   17 table   18 array
//   Tables and arrays nest at most FIELD_NESTING_DEPTH_MAX levels.
//
// User headers whose key starts with `jx.` are REJECTED by encodeMessage (BrokerError InvalidArgument): the
// prefix is reserved. Protocol front ends that append records without this codec (Kafka produce) must apply
// the same rule with isReservedHeaderKey(). On decode, `jx.p` is parsed and any other `jx.` header is
// dropped (reserved for later formats). Decoding lives in message-decode.ts: decodeMessage (for delivery)
// drops a malformed `jx.p` with a counted warning, decodeMessageStrict throws BrokerError(CorruptData); never
// an out-of-bounds read.
import type { RecordHeader, RecordInput } from '../storage/log/record-batch.js';
import type { FieldTable, FieldValue, Message, MessageHeader, MessageProperties } from './message.js';
import { Bit, INT64_MAX, INT64_MIN, PROPERTIES_FORMAT_VERSION, PROPERTIES_HEADER_KEY, RESERVED_HEADER_PREFIX, STRING_PROPS, Tag, UINT64_MAX, FIELD_NESTING_DEPTH_MAX, corrupt, invalid } from './message-format.js';
import { BrokerError, ErrorCode } from '../lib/errors.js';

export { FIELD_NESTING_DEPTH_MAX, PROPERTIES_FORMAT_VERSION, PROPERTIES_HEADER_KEY, RESERVED_HEADER_PREFIX, isReservedHeaderKey } from './message-format.js';
export { decodeFieldTable, decodeMessage, decodeMessageStrict, decodePropertiesInto, type DecodedProperties } from './message-decode.js';

// ---------------------------------------------------------------------------------------------------------
// Sizing (first pass) — also validates, so that the write pass cannot fail half way.

function uvarintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function strSize(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return uvarintSize(n) + n;
}

function checkInt(v: FieldValue & { value: number }, min: number, max: number): void {
  if (!Number.isInteger(v.value) || v.value < min || v.value > max) throw invalid(`field value ${v.value} is not a valid ${v.type}`);
}

function fieldValueSize(v: FieldValue, depth: number): number {
  switch (v.type) {
    case 'void':
      return 1;
    case 'bool':
      return 2;
    case 'int8':
      checkInt(v, -0x80, 0x7f);
      return 2;
    case 'uint8':
      checkInt(v, 0, 0xff);
      return 2;
    case 'int16':
      checkInt(v, -0x8000, 0x7fff);
      return 3;
    case 'uint16':
      checkInt(v, 0, 0xffff);
      return 3;
    case 'int32':
      checkInt(v, -0x80000000, 0x7fffffff);
      return 5;
    case 'uint32':
      checkInt(v, 0, 0xffffffff);
      return 5;
    case 'float':
      if (typeof v.value !== 'number') throw invalid('float field value is not a number');
      return 5;
    case 'double':
      if (typeof v.value !== 'number') throw invalid('double field value is not a number');
      return 9;
    case 'int64':
      if (typeof v.value !== 'bigint' || v.value < INT64_MIN || v.value > INT64_MAX) throw invalid(`field value ${v.value} is not a valid int64`);
      return 9;
    case 'uint64':
    case 'timestamp':
      if (typeof v.value !== 'bigint' || v.value < 0n || v.value > UINT64_MAX) throw invalid(`field value ${v.value} is not a valid ${v.type}`);
      return 9;
    case 'decimal':
      if (!Number.isInteger(v.scale) || v.scale < 0 || v.scale > 0xff) throw invalid(`decimal scale ${v.scale} is not in 0..255`);
      if (!Number.isInteger(v.value) || v.value < -0x80000000 || v.value > 0x7fffffff) throw invalid(`decimal value ${v.value} is not an int32`);
      return 6;
    case 'shortstr':
    case 'longstr':
    case 'bytes':
      if (!Buffer.isBuffer(v.value)) throw invalid(`${v.type} field value is not a Buffer`);
      return 1 + uvarintSize(v.value.length) + v.value.length;
    case 'table':
      return 1 + fieldTableSize(v.value, depth + 1);
    case 'array': {
      if (depth + 1 > FIELD_NESTING_DEPTH_MAX) throw invalid(`field values nest deeper than ${FIELD_NESTING_DEPTH_MAX}`);
      let n = 1 + uvarintSize(v.value.length);
      for (let i = 0; i < v.value.length; i++) n += fieldValueSize(v.value[i]!, depth + 1);
      return n;
    }
    default:
      throw invalid(`unknown field value type '${(v as { type: unknown }).type}'`);
  }
}

function fieldTableSize(t: FieldTable, depth: number): number {
  if (depth > FIELD_NESTING_DEPTH_MAX) throw invalid(`field tables nest deeper than ${FIELD_NESTING_DEPTH_MAX}`);
  let n = uvarintSize(t.length);
  for (let i = 0; i < t.length; i++) {
    const e = t[i]!;
    n += strSize(e[0]) + fieldValueSize(e[1], depth);
  }
  return n;
}

function checkStr(name: string, s: unknown): void {
  if (typeof s !== 'string') throw invalid(`message property ${name} is not a string`);
}

/** Presence bits of a message's reserved header (0: the message needs none). */
function presenceBits(m: Message): number {
  const p = m.properties;
  let bits = 0;
  if (p !== undefined) {
    if (p.contentType !== undefined) bits |= Bit.ContentType;
    if (p.contentEncoding !== undefined) bits |= Bit.ContentEncoding;
    if (p.correlationId !== undefined) bits |= Bit.CorrelationId;
    if (p.replyTo !== undefined) bits |= Bit.ReplyTo;
    if (p.messageId !== undefined) bits |= Bit.MessageId;
    if (p.type !== undefined) bits |= Bit.Type;
    if (p.userId !== undefined) bits |= Bit.UserId;
    if (p.appId !== undefined) bits |= Bit.AppId;
    if (p.clusterId !== undefined) bits |= Bit.ClusterId;
    if (p.priority !== undefined) bits |= Bit.Priority;
    if (p.expirationMs !== undefined) bits |= Bit.ExpirationMs;
    if (p.persistent !== undefined) bits |= Bit.Persistent;
    if (p.timestampMs !== undefined) bits |= Bit.TimestampMs;
    if (p.headers !== undefined) bits |= Bit.Headers;
  }
  if (m.exchange !== undefined) bits |= Bit.Exchange;
  if (m.routingKey !== undefined) bits |= Bit.RoutingKey;
  return bits;
}


function propertiesValueSize(m: Message, bits: number): number {
  const p = m.properties;
  let n = 3;
  for (let i = 0; i < STRING_PROPS.length; i++) {
    if (bits & (1 << i)) {
      const s = p[STRING_PROPS[i]!];
      checkStr(STRING_PROPS[i]!, s);
      n += strSize(s!);
    }
  }
  if (bits & Bit.Priority) {
    if (!Number.isInteger(p.priority) || p.priority! < 0 || p.priority! > 255) throw invalid(`priority ${p.priority} is not in 0..255`);
    n += 1;
  }
  if (bits & Bit.ExpirationMs) {
    if (typeof p.expirationMs !== 'number') throw invalid('expirationMs is not a number');
    n += 8;
  }
  if (bits & Bit.Persistent) n += 1;
  if (bits & Bit.TimestampMs) {
    if (typeof p.timestampMs !== 'number') throw invalid('timestampMs is not a number');
    n += 8;
  }
  if (bits & Bit.Headers) {
    if (!Array.isArray(p.headers)) throw invalid('headers is not a field table');
    n += fieldTableSize(p.headers, 1);
  }
  if (bits & Bit.Exchange) {
    checkStr('exchange', m.exchange);
    n += strSize(m.exchange!);
  }
  if (bits & Bit.RoutingKey) {
    checkStr('routingKey', m.routingKey);
    n += strSize(m.routingKey!);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Writing (second pass). Positions are threaded through return values: no closures, no intermediate buffers.

function writeUvarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeStr(buf: Buffer, pos: number, s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  pos = writeUvarint(buf, pos, n);
  return pos + buf.write(s, pos, n, 'utf8');
}

function writeFieldValue(buf: Buffer, pos: number, v: FieldValue): number {
  switch (v.type) {
    case 'void':
      buf[pos] = Tag.Void;
      return pos + 1;
    case 'bool':
      buf[pos] = Tag.Bool;
      buf[pos + 1] = v.value ? 1 : 0;
      return pos + 2;
    case 'int8':
      buf[pos] = Tag.Int8;
      return buf.writeInt8(v.value, pos + 1);
    case 'uint8':
      buf[pos] = Tag.Uint8;
      return buf.writeUInt8(v.value, pos + 1);
    case 'int16':
      buf[pos] = Tag.Int16;
      return buf.writeInt16BE(v.value, pos + 1);
    case 'uint16':
      buf[pos] = Tag.Uint16;
      return buf.writeUInt16BE(v.value, pos + 1);
    case 'int32':
      buf[pos] = Tag.Int32;
      return buf.writeInt32BE(v.value, pos + 1);
    case 'uint32':
      buf[pos] = Tag.Uint32;
      return buf.writeUInt32BE(v.value, pos + 1);
    case 'float':
      buf[pos] = Tag.Float;
      return buf.writeFloatBE(v.value, pos + 1);
    case 'double':
      buf[pos] = Tag.Double;
      return buf.writeDoubleBE(v.value, pos + 1);
    case 'int64':
      buf[pos] = Tag.Int64;
      return buf.writeBigInt64BE(v.value, pos + 1);
    case 'uint64':
      buf[pos] = Tag.Uint64;
      return buf.writeBigUInt64BE(v.value, pos + 1);
    case 'timestamp':
      buf[pos] = Tag.Timestamp;
      return buf.writeBigUInt64BE(v.value, pos + 1);
    case 'decimal':
      buf[pos] = Tag.Decimal;
      buf[pos + 1] = v.scale;
      return buf.writeInt32BE(v.value, pos + 2);
    case 'shortstr':
    case 'longstr':
    case 'bytes':
      buf[pos] = v.type === 'shortstr' ? Tag.Shortstr : v.type === 'longstr' ? Tag.Longstr : Tag.Bytes;
      pos = writeUvarint(buf, pos + 1, v.value.length);
      return pos + v.value.copy(buf, pos);
    case 'table':
      buf[pos] = Tag.Table;
      return writeFieldTable(buf, pos + 1, v.value);
    case 'array': {
      buf[pos] = Tag.Array;
      pos = writeUvarint(buf, pos + 1, v.value.length);
      for (let i = 0; i < v.value.length; i++) pos = writeFieldValue(buf, pos, v.value[i]!);
      return pos;
    }
  }
}

function writeFieldTable(buf: Buffer, pos: number, t: FieldTable): number {
  pos = writeUvarint(buf, pos, t.length);
  for (let i = 0; i < t.length; i++) {
    const e = t[i]!;
    pos = writeStr(buf, pos, e[0]);
    pos = writeFieldValue(buf, pos, e[1]);
  }
  return pos;
}

function writePropertiesValue(m: Message, bits: number, buf: Buffer): number {
  const p = m.properties;
  buf[0] = PROPERTIES_FORMAT_VERSION;
  buf.writeUInt16BE(bits, 1);
  let pos = 3;
  for (let i = 0; i < STRING_PROPS.length; i++) if (bits & (1 << i)) pos = writeStr(buf, pos, p[STRING_PROPS[i]!]!);
  if (bits & Bit.Priority) buf[pos++] = p.priority!;
  if (bits & Bit.ExpirationMs) pos = buf.writeDoubleBE(p.expirationMs!, pos);
  if (bits & Bit.Persistent) buf[pos++] = p.persistent ? 1 : 0;
  if (bits & Bit.TimestampMs) pos = buf.writeDoubleBE(p.timestampMs!, pos);
  if (bits & Bit.Headers) pos = writeFieldTable(buf, pos, p.headers!);
  if (bits & Bit.Exchange) pos = writeStr(buf, pos, m.exchange!);
  if (bits & Bit.RoutingKey) pos = writeStr(buf, pos, m.routingKey!);
  return pos;
}

/**
 * The `jx.p` header value for a message, or null when the message has no properties, exchange or routing
 * key. One Buffer, sized exactly. Throws BrokerError(InvalidArgument) for values the format cannot hold.
 */
export function encodeProperties(m: Message): Buffer | null {
  const bits = presenceBits(m);
  if (bits === 0) return null;
  const buf = Buffer.allocUnsafe(propertiesValueSize(m, bits));
  const end = writePropertiesValue(m, bits, buf);
  if (end !== buf.length) throw new BrokerError(ErrorCode.Internal, `properties size mismatch: ${end} != ${buf.length}`);
  return buf;
}

/** Bytes of the `jx.p` header value (0 when none is needed). */
export function propertiesSizeBytes(m: Message): number {
  const bits = presenceBits(m);
  return bits === 0 ? 0 : propertiesValueSize(m, bits);
}

function checkUserHeaders(headers: readonly MessageHeader[]): void {
  for (let i = 0; i < headers.length; i++) {
    const k = headers[i]!.key;
    if (typeof k !== 'string') throw invalid('header key is not a string');
    if (k.startsWith(RESERVED_HEADER_PREFIX)) throw invalid(`header key '${k}' uses the reserved prefix '${RESERVED_HEADER_PREFIX}'`);
  }
}

/**
 * The record headers last made for a message without user headers, by (properties object, exchange, routing
 * key). Messages are immutable and publishers usually repeat all three (protocols share one properties object
 * between the messages of a publisher), so the `jx.p` value is encoded once for a run of them.
 */
let memoProps: MessageProperties | undefined;
let memoExchange: string | undefined;
let memoRoutingKey: string | undefined;
let memoHeaders: readonly RecordHeader[] = [];

/** Message -> record. The reserved header (if any) comes first, then the user headers in order. */
export function encodeMessage(m: Message): RecordInput {
  const userHeaders = m.headers ?? [];
  if (userHeaders.length === 0) {
    if (m.properties === memoProps && m.exchange === memoExchange && m.routingKey === memoRoutingKey) {
      return { key: m.key, value: m.value, timestamp: m.timestamp, headers: memoHeaders };
    }
    const props = encodeProperties(m);
    const headers: readonly RecordHeader[] = props === null ? [] : [{ key: PROPERTIES_HEADER_KEY, value: props }];
    memoProps = m.properties;
    memoExchange = m.exchange;
    memoRoutingKey = m.routingKey;
    memoHeaders = headers;
    return { key: m.key, value: m.value, timestamp: m.timestamp, headers };
  }
  checkUserHeaders(userHeaders);
  const props = encodeProperties(m);
  let headers: RecordHeader[];
  if (props === null) headers = userHeaders as RecordHeader[];
  else {
    headers = new Array(userHeaders.length + 1);
    headers[0] = { key: PROPERTIES_HEADER_KEY, value: props };
    for (let i = 0; i < userHeaders.length; i++) headers[i + 1] = userHeaders[i]!;
  }
  return { key: m.key, value: m.value, timestamp: m.timestamp, headers };
}

/**
 * Approximate stored size of a message's record payload: key + value + header keys and values (including
 * the reserved header). Excludes the few varint bytes of record framing.
 */
export function messageSizeBytes(m: Message): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0);
  const props = propertiesSizeBytes(m);
  if (props > 0) n += PROPERTIES_HEADER_KEY.length + props;
  for (const h of m.headers) n += Buffer.byteLength(h.key, 'utf8') + (h.value?.length ?? 0);
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Field tables on their own (binding arguments, definitions).

/** A field table in the `table` encoding above (uvarint count + entries), as one Buffer. */
export function encodeFieldTable(t: FieldTable): Buffer {
  const buf = Buffer.allocUnsafe(fieldTableSize(t, 1));
  writeFieldTable(buf, 0, t);
  return buf;
}
/** First value named `name` in the table, or undefined. */
export function findField(t: FieldTable | undefined, name: string): FieldValue | undefined {
  if (t === undefined) return undefined;
  for (let i = 0; i < t.length; i++) if (t[i]![0] === name) return t[i]![1];
  return undefined;
}

/** A string view of a string-typed field value (shortstr/longstr/bytes), else undefined. */
export function fieldString(v: FieldValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.type === 'shortstr' || v.type === 'longstr' || v.type === 'bytes') return v.value.toString('utf8');
  return undefined;
}

/** `t` with `name` set to `value`: replaces the first entry of that name in place, else appends. New array. */
export function setField(t: FieldTable | undefined, name: string, value: FieldValue): FieldTable {
  const out: FieldTable = t ? t.slice() : [];
  for (let i = 0; i < out.length; i++) {
    if (out[i]![0] === name) {
      out[i] = [name, value];
      return out;
    }
  }
  out.push([name, value]);
  return out;
}

/** JSON-safe form of a field value: { type, value } with bigints as decimal strings, buffers as base64. */
export type FieldValueJson =
  | { type: string; value?: string | number | boolean | FieldValueJson[] | FieldTableJson; scale?: number };
export type FieldTableJson = Array<[string, FieldValueJson]>;

export function fieldValueToJson(v: FieldValue): FieldValueJson {
  switch (v.type) {
    case 'void':
      return { type: 'void' };
    case 'int64':
    case 'uint64':
    case 'timestamp':
      return { type: v.type, value: v.value.toString() };
    case 'decimal':
      return { type: 'decimal', scale: v.scale, value: v.value };
    case 'shortstr':
    case 'longstr':
    case 'bytes':
      return { type: v.type, value: v.value.toString('base64') };
    case 'table':
      return { type: 'table', value: fieldTableToJson(v.value) };
    case 'array':
      return { type: 'array', value: v.value.map(fieldValueToJson) };
    case 'float':
    case 'double':
      // JSON has no NaN, Infinity or -0: those travel as strings
      return { type: v.type, value: Number.isFinite(v.value) && !Object.is(v.value, -0) ? v.value : String(Object.is(v.value, -0) ? '-0' : v.value) };
    default:
      return { type: v.type, value: v.value };
  }
}

const SPECIAL_FLOATS: { [k: string]: number } = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

export function fieldTableToJson(t: FieldTable): FieldTableJson {
  return t.map(([k, v]) => [k, fieldValueToJson(v)]);
}

const NUMBER_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'float', 'double']);

/** Inverse of fieldValueToJson; validates (BrokerError CorruptData) and range-checks like the codec. */
export function fieldValueFromJson(j: unknown, depth = 1): FieldValue {
  if (depth > FIELD_NESTING_DEPTH_MAX) throw corrupt('field values nest too deep');
  if (typeof j !== 'object' || j === null) throw corrupt('field value is not an object');
  const { type, value, scale } = j as { type?: unknown; value?: unknown; scale?: unknown };
  let v: FieldValue;
  if (type === 'void') v = { type: 'void' };
  else if (type === 'bool' && typeof value === 'boolean') v = { type, value };
  else if (typeof type === 'string' && NUMBER_TYPES.has(type) && typeof value === 'number') v = { type: type as 'int8', value };
  else if ((type === 'float' || type === 'double') && typeof value === 'string' && Object.hasOwn(SPECIAL_FLOATS, value)) v = { type, value: SPECIAL_FLOATS[value]! };
  else if ((type === 'int64' || type === 'uint64' || type === 'timestamp') && typeof value === 'string' && /^-?[0-9]+$/.test(value))
    v = { type, value: BigInt(value) };
  else if (type === 'decimal' && typeof value === 'number' && typeof scale === 'number') v = { type, scale, value };
  else if ((type === 'shortstr' || type === 'longstr' || type === 'bytes') && typeof value === 'string') v = { type, value: Buffer.from(value, 'base64') };
  else if (type === 'table') v = { type, value: fieldTableFromJson(value, depth + 1) };
  else if (type === 'array' && Array.isArray(value)) v = { type, value: value.map((e) => fieldValueFromJson(e, depth + 1)) };
  else throw corrupt(`bad field value of type '${String(type)}'`);
  try {
    fieldValueSize(v, depth);
  } catch (e) {
    throw corrupt(e instanceof Error ? e.message : String(e));
  }
  return v;
}

export function fieldTableFromJson(j: unknown, depth = 1): FieldTable {
  if (!Array.isArray(j)) throw corrupt('field table is not an array');
  return j.map((e) => {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string') throw corrupt('bad field table entry');
    return [e[0], fieldValueFromJson(e[1], depth)] as [string, FieldValue];
  });
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for queues: headers and RabbitMQ dead-lettering.

/** A copy of `m` with AMQP header `name` set to `value` (other headers and their order kept). */
export function withHeader(m: Message, name: string, value: FieldValue): Message {
  return { ...m, properties: { ...m.properties, headers: setField(m.properties.headers, name, value) } };
}

export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

export interface XDeathEvent {
  /** The queue the message was dead-lettered from. */
  queue: string;
  reason: DeathReason;
  /** The exchange the message had been published to (the message's exchange, '' for the default). */
  exchange: string;
  /** The routing keys it had been published with (incl. CC, excl. BCC). */
  routingKeys: string[];
  /** When it died (ms since epoch; stored in seconds, RabbitMQ's x-death `time`). */
  timeMs: number;
  /** Per-message TTL it had, in ms; defaults to the message's expirationMs property. */
  originalExpiration?: number;
}

const longstr = (s: string): FieldValue => ({ type: 'longstr', value: Buffer.from(s, 'utf8') });

function xDeathKeyMatches(entry: FieldValue, queue: string, reason: string): boolean {
  if (entry.type !== 'table') return false;
  return fieldString(findField(entry.value, 'queue')) === queue && fieldString(findField(entry.value, 'reason')) === reason;
}

/**
 * Records a dead-lettering in the message's headers the way RabbitMQ 3.13 does, returning a new Message:
 *  - `x-death` is an array of tables, most recent first. An entry for the same queue + reason has its
 *    `count` (long) incremented and moves to the front (its other fields are kept); otherwise a new entry
 *    { count: 1, reason, queue, time (timestamp, s), exchange, routing-keys (array of longstr),
 *    original-expiration (longstr, when the message had a TTL) } is prepended.
 *  - `x-first-death-queue/-reason/-exchange` are set if absent; `x-last-death-*` are always set.
 *  - The `expiration` property (expirationMs) is removed.
 */
export function addXDeath(m: Message, ev: XDeathEvent): Message {
  const headers = m.properties.headers ?? [];
  const existing = findField(headers, 'x-death');
  const others: FieldValue[] = [];
  let match: FieldTable | undefined;
  if (existing !== undefined && existing.type === 'array') {
    for (const e of existing.value) {
      if (match === undefined && xDeathKeyMatches(e, ev.queue, ev.reason)) match = (e as { value: FieldTable }).value;
      else others.push(e);
    }
  }
  let entry: FieldTable;
  if (match !== undefined) {
    const c = findField(match, 'count');
    let count = 1n;
    if (c !== undefined) {
      if (c.type === 'int64' || c.type === 'uint64' || c.type === 'timestamp') count = c.value + 1n;
      else if (typeof (c as { value?: unknown }).value === 'number' && c.type !== 'decimal') count = BigInt(Math.trunc((c as { value: number }).value)) + 1n;
    }
    entry = setField(match, 'count', { type: 'int64', value: count });
  } else {
    entry = [
      ['count', { type: 'int64', value: 1n }],
      ['reason', longstr(ev.reason)],
      ['queue', longstr(ev.queue)],
      ['time', { type: 'timestamp', value: BigInt(Math.max(0, Math.floor(ev.timeMs / 1000))) }],
      ['exchange', longstr(ev.exchange)],
      ['routing-keys', { type: 'array', value: ev.routingKeys.map(longstr) }],
    ];
    const ttl = ev.originalExpiration ?? m.properties.expirationMs;
    if (ttl !== undefined) entry.push(['original-expiration', longstr(String(ttl))]);
  }
  const deaths: FieldValue = { type: 'array', value: [{ type: 'table', value: entry }, ...others] };
  // x-death first, then the other headers in their order.
  let out: FieldTable = [['x-death', deaths]];
  for (const h of headers) if (h[0] !== 'x-death') out.push(h);
  if (findField(out, 'x-first-death-queue') === undefined) {
    out.push(['x-first-death-queue', longstr(ev.queue)]);
    out.push(['x-first-death-reason', longstr(ev.reason)]);
    out.push(['x-first-death-exchange', longstr(ev.exchange)]);
  }
  out = setField(out, 'x-last-death-queue', longstr(ev.queue));
  out = setField(out, 'x-last-death-reason', longstr(ev.reason));
  out = setField(out, 'x-last-death-exchange', longstr(ev.exchange));
  const properties: MessageProperties = { ...m.properties, headers: out };
  delete properties.expirationMs;
  return { ...m, properties };
}
