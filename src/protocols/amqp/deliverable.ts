// What an AMQP delivery can carry (docs/interop.md, "Messages AMQP cannot express"). A stream holds records
// from every protocol; a Kafka record may have a header key over 255 bytes, a `jx.p` header from another
// writer may hold a content-type longer than a shortstr, a headers table may not fit the consumer's
// frame-max or hold a value AMQP has no type for. Such a message is still delivered: each field that cannot
// be expressed is dropped (counted and logged as an interop warning), and it is decided BEFORE any byte of
// the delivery is written, so an encoding failure can never leave half a frame in the connection's output.
//
// The fast path costs one encode into a scratch writer (the bytes the delivery copies anyway); the checks
// that drop fields run only when that encode fails or does not fit the frame.
import type { FieldTable } from '../../core/message.js';
import { countInteropWarning } from '../../core/interop-warnings.js';
import { writeBasicProperties, type BasicProperties } from './codec/generated/basic-properties.js';
import { writeFieldValue } from './codec/field-table.js';
import { AmqpCodecLimits } from './codec/limits.js';
import { AmqpWriter } from './codec/writer.js';

/** Content header payload bytes before the properties: class, weight, body size. */
const CONTENT_HEADER_FIXED_BYTES = 12;
/** Frame type, channel, size and frame-end around a payload. */
const FRAME_OVERHEAD_BYTES = 8;

const SHORTSTR_PROPS = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'expiration', 'messageId', 'type', 'userId', 'appId', 'clusterId'] as const;

const scratch = new AmqpWriter(4096);
const probe = new AmqpWriter(256);

/** Whether a string fits an AMQP shortstr (at most 255 UTF-8 bytes). */
export function fitsShortstr(s: string): boolean {
  // Every UTF-16 unit is at most 3 UTF-8 bytes: short strings need no byte count.
  return s.length * 3 <= AmqpCodecLimits.shortstrBytesMax || Buffer.byteLength(s, 'utf8') <= AmqpCodecLimits.shortstrBytesMax;
}

/** `s` when it fits a shortstr, else '' (a dropped field, counted): exchange and routing key of a delivery. */
export function expressibleShortstr(s: string, field: string): string {
  if (fitsShortstr(s)) return s;
  countInteropWarning('amqp-field-dropped', { field, bytes: Buffer.byteLength(s, 'utf8') });
  return '';
}

/** Largest property flags + properties block a content header can carry under `frameMax` (0: no limit). */
function propertiesBytesMax(frameMax: number): number {
  return frameMax === 0 ? 0xffffffff : frameMax - FRAME_OVERHEAD_BYTES - CONTENT_HEADER_FIXED_BYTES;
}

/**
 * The property flags and properties of a delivery's content header, as bytes that fit the consumer's
 * frame-max. Never throws: fields AMQP cannot carry are dropped (see the top of this file).
 */
export function deliveryPropertiesBytes(props: BasicProperties, frameMax: number): Buffer {
  const max = propertiesBytesMax(frameMax);
  const first = tryEncode(props, max);
  if (first !== undefined) return first;
  const p = expressibleProperties(props);
  const second = tryEncode(p, max);
  if (second !== undefined) return second;
  if (p.headers !== undefined) {
    countInteropWarning('amqp-field-dropped', { field: 'headers', reason: `content header over frame-max ${frameMax}` });
    delete p.headers;
    const third = tryEncode(p, max);
    if (third !== undefined) return third;
  }
  countInteropWarning('amqp-field-dropped', { field: 'properties', reason: 'not expressible' });
  return tryEncode({}, max)!;
}

function tryEncode(props: BasicProperties, max: number): Buffer | undefined {
  const w = scratch.reset();
  try {
    writeBasicProperties(w, props);
  } catch {
    w.reset();
    return undefined;
  }
  if (w.pos > max) {
    w.reset();
    return undefined;
  }
  return w.take();
}

/** A copy of `props` without the fields AMQP cannot express (each drop counted). */
function expressibleProperties(props: BasicProperties): BasicProperties {
  const p: BasicProperties = { ...props };
  for (const k of SHORTSTR_PROPS) {
    const v = p[k];
    if (v !== undefined && !fitsShortstr(v)) {
      countInteropWarning('amqp-field-dropped', { field: k, bytes: Buffer.byteLength(v, 'utf8') });
      delete p[k];
    }
  }
  if (p.headers !== undefined) p.headers = expressibleHeaders(p.headers);
  return p;
}

/** The entries of a headers table that AMQP can carry: a shortstr name and a value that encodes. */
function expressibleHeaders(t: FieldTable): FieldTable {
  const out: FieldTable = [];
  for (const e of t) {
    let ok = fitsShortstr(e[0]);
    if (ok) {
      try {
        writeFieldValue(probe.reset(), e[1], 0);
      } catch {
        ok = false;
      }
    }
    if (ok) out.push(e);
    else countInteropWarning('amqp-field-dropped', { field: 'headers', header: e[0].slice(0, 64), reason: 'name over 255 bytes or a value AMQP cannot carry' });
  }
  probe.reset();
  if (probe.buf.length > 64 * 1024) probe.buf = Buffer.allocUnsafe(256);
  return out;
}
