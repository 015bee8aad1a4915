// AMQP field tables and arrays as RabbitMQ reads and writes them (README §5), mapped onto the core's typed
// FieldTable / FieldValue (src/core/message.ts) so that the integer widths and signedness survive a round trip.
//
// tag  core type            tag  core type
//  t   bool                  d   double
//  b   int8                  f   float (float32)
//  B   uint8                 D   decimal {scale u8, value u32}
//  s   int16 (RMQ, not the   S   longstr (Buffer)
//      spec's short string)  x   bytes (u32 length + bytes)
//  u   uint16                T   timestamp (u64 seconds, bigint)
//  I   int32                 F   table (nested)
//  i   uint32                A   array
//  l   int64                 V   void
//  L   decoded as int64 (RMQ reads it signed); never emitted — re-encodes as `l`
// Encoding: `shortstr` values go out as `S` (tables carry no short strings), `uint64` as `l` when it fits in
// int64 (else AmqpEncodeError). `U` and the spec's `s`-as-shortstr are never written; `U` is not read either.
import type { FieldTable, FieldValue } from '../../../core/message.js';
import { AmqpEncodeError } from './decode-error.js';
import { AmqpCodecLimits } from './limits.js';
import { AmqpReader } from './reader.js';
import { AmqpWriter } from './writer.js';

const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** Reads a u32-length-prefixed table at the reader's position. */
export function readFieldTable(r: AmqpReader, depth = 0): FieldTable {
  if (depth >= AmqpCodecLimits.fieldTableDepthMax) r.fail(`field tables nested deeper than ${AmqpCodecLimits.fieldTableDepthMax}`);
  const len = r.long();
  if (len > r.end - r.pos) r.fail(`field table of ${len} bytes overruns the payload`);
  if (len === 0) return [];
  const outerEnd = r.end;
  r.end = r.pos + len;
  const table = readFieldTableEntries(r, depth);
  r.end = outerEnd;
  return table;
}

/** Reads name/value entries until the reader's end (a table body without its length prefix). */
export function readFieldTableEntries(r: AmqpReader, depth: number): FieldTable {
  const table: FieldTable = [];
  while (r.pos < r.end) {
    const name = r.shortstr();
    table.push([name, readFieldValue(r, depth)]);
  }
  return table;
}

function readFieldArray(r: AmqpReader, depth: number): FieldValue[] {
  if (depth >= AmqpCodecLimits.fieldTableDepthMax) r.fail(`field arrays nested deeper than ${AmqpCodecLimits.fieldTableDepthMax}`);
  const len = r.long();
  if (len > r.end - r.pos) r.fail(`field array of ${len} bytes overruns the payload`);
  const items: FieldValue[] = [];
  if (len === 0) return items;
  const outerEnd = r.end;
  r.end = r.pos + len;
  while (r.pos < r.end) items.push(readFieldValue(r, depth));
  r.end = outerEnd;
  return items;
}

/** One tagged value. `depth` is the nesting depth of the table or array holding it. */
export function readFieldValue(r: AmqpReader, depth: number): FieldValue {
  const tag = r.octet();
  switch (tag) {
    case 0x74: // t
      return { type: 'bool', value: r.octet() !== 0 };
    case 0x62: // b
      return { type: 'int8', value: r.int8() };
    case 0x42: // B
      return { type: 'uint8', value: r.octet() };
    case 0x73: // s
      return { type: 'int16', value: r.int16() };
    case 0x75: // u
      return { type: 'uint16', value: r.short() };
    case 0x49: // I
      return { type: 'int32', value: r.int32() };
    case 0x69: // i
      return { type: 'uint32', value: r.long() };
    case 0x6c: // l
    case 0x4c: // L (RabbitMQ reads it as signed int64)
      return { type: 'int64', value: r.int64() };
    case 0x64: // d
      return { type: 'double', value: r.double() };
    case 0x66: // f
      return { type: 'float', value: r.float() };
    case 0x44: {
      // D
      const scale = r.octet();
      return { type: 'decimal', scale, value: r.long() };
    }
    case 0x53: // S
      return { type: 'longstr', value: r.longstr() };
    case 0x78: // x
      return { type: 'bytes', value: r.longstr() };
    case 0x54: // T
      return { type: 'timestamp', value: r.longlong() };
    case 0x46: // F
      return { type: 'table', value: readFieldTable(r, depth + 1) };
    case 0x41: // A
      return { type: 'array', value: readFieldArray(r, depth + 1) };
    case 0x56: // V
      return { type: 'void' };
    default:
      return r.fail(`unknown field value type 0x${tag.toString(16).padStart(2, '0')} (cannot be skipped)`);
  }
}

function intIn(v: number, min: number, max: number, type: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new AmqpEncodeError(`${type} field value out of range: ${v}`);
  return v;
}

function bigIn(v: bigint, min: bigint, max: bigint, type: string): bigint {
  if (typeof v !== 'bigint' || v < min || v > max) throw new AmqpEncodeError(`${type} field value out of range: ${String(v)}`);
  return v;
}

/** Writes a u32-length-prefixed table. */
export function writeFieldTable(w: AmqpWriter, table: FieldTable, depth = 0): void {
  if (depth >= AmqpCodecLimits.fieldTableDepthMax) throw new AmqpEncodeError(`field tables nested deeper than ${AmqpCodecLimits.fieldTableDepthMax}`);
  w.ensure(4);
  const at = w.pos;
  w.pos += 4;
  writeFieldTableEntries(w, table, depth);
  w.buf.writeUInt32BE(w.pos - at - 4, at);
}

/** Writes name/value entries without the length prefix. */
export function writeFieldTableEntries(w: AmqpWriter, table: FieldTable, depth: number): void {
  for (let i = 0; i < table.length; i++) {
    const entry = table[i]!;
    w.shortstr(entry[0]);
    writeFieldValue(w, entry[1], depth);
  }
}

/** One tagged value. */
export function writeFieldValue(w: AmqpWriter, v: FieldValue, depth: number): void {
  switch (v.type) {
    case 'bool':
      w.octet(0x74);
      w.octet(v.value ? 1 : 0);
      return;
    case 'int8':
      w.octet(0x62);
      w.int8(intIn(v.value, -0x80, 0x7f, v.type));
      return;
    case 'uint8':
      w.octet(0x42);
      w.octet(intIn(v.value, 0, 0xff, v.type));
      return;
    case 'int16':
      w.octet(0x73);
      w.int16(intIn(v.value, -0x8000, 0x7fff, v.type));
      return;
    case 'uint16':
      w.octet(0x75);
      w.short(intIn(v.value, 0, 0xffff, v.type));
      return;
    case 'int32':
      w.octet(0x49);
      w.int32(intIn(v.value, -0x80000000, 0x7fffffff, v.type));
      return;
    case 'uint32':
      w.octet(0x69);
      w.long(intIn(v.value, 0, 0xffffffff, v.type));
      return;
    case 'int64':
      w.octet(0x6c);
      w.int64(bigIn(v.value, -INT64_MAX - 1n, INT64_MAX, v.type));
      return;
    case 'uint64':
      // No unsigned 64-bit tag in RabbitMQ's set (README §5): written as signed `l` when it fits.
      w.octet(0x6c);
      w.int64(bigIn(v.value, 0n, INT64_MAX, 'uint64 (written as int64 `l`)'));
      return;
    case 'timestamp':
      w.octet(0x54);
      w.longlong(bigIn(v.value, 0n, UINT64_MAX, v.type));
      return;
    case 'float':
      w.octet(0x66);
      w.float(v.value);
      return;
    case 'double':
      w.octet(0x64);
      w.double(v.value);
      return;
    case 'decimal':
      w.octet(0x44);
      w.octet(intIn(v.scale, 0, 0xff, 'decimal scale'));
      w.long(intIn(v.value, 0, 0xffffffff, v.type));
      return;
    case 'shortstr':
    case 'longstr':
      w.octet(0x53);
      w.longstr(v.value);
      return;
    case 'bytes':
      w.octet(0x78);
      w.longstr(v.value);
      return;
    case 'table':
      w.octet(0x46);
      writeFieldTable(w, v.value, depth + 1);
      return;
    case 'array': {
      if (depth + 1 >= AmqpCodecLimits.fieldTableDepthMax) throw new AmqpEncodeError(`field arrays nested deeper than ${AmqpCodecLimits.fieldTableDepthMax}`);
      w.octet(0x41);
      w.ensure(4);
      const at = w.pos;
      w.pos += 4;
      for (let i = 0; i < v.value.length; i++) writeFieldValue(w, v.value[i]!, depth + 1);
      w.buf.writeUInt32BE(w.pos - at - 4, at);
      return;
    }
    case 'void':
      w.octet(0x56);
      return;
    default:
      throw new AmqpEncodeError(`unknown field value type ${(v as { type: unknown }).type as string}`);
  }
}

/** A whole table (length prefix included) as bytes. */
export function encodeFieldTable(table: FieldTable): Buffer {
  const w = new AmqpWriter(256);
  writeFieldTable(w, table);
  return w.take();
}

/** Decodes a buffer holding exactly one length-prefixed table. Throws AmqpDecodeError (502) if malformed. */
export function decodeFieldTable(buf: Buffer): FieldTable {
  const r = new AmqpReader(buf);
  const t = readFieldTable(r);
  r.done('field table');
  return t;
}

/** Table entries without the u32 length prefix — the AMQPLAIN `start-ok` response (README §2). */
export function decodeFieldTableEntries(buf: Buffer): FieldTable {
  return readFieldTableEntries(new AmqpReader(buf), 0);
}
