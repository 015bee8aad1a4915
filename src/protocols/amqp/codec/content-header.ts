// Content header frames (README §4): class-id u16 (60), weight u16 (0), body-size u64, property flags u16,
// then the present basic-class properties in spec order (codec generated in generated/basic-properties.ts).
import { AmqpDecodeError, CodecReplyCode } from './decode-error.js';
import { BASIC_CLASS_ID, readBasicProperties, writeBasicProperties, type BasicProperties } from './generated/basic-properties.js';
import { FRAME_END, FrameType } from './generated/constants.js';
import { AmqpReader } from './reader.js';
import { AmqpWriter, scratchWriter } from './writer.js';

export type { BasicProperties } from './generated/basic-properties.js';

const UINT64_MAX = (1n << 64n) - 1n;

export interface ContentHeader {
  classId: number;
  weight: number;
  bodySize: bigint;
  properties: BasicProperties;
}

/**
 * Decodes a content header payload. AmqpDecodeError: 501 if shorter than the 14 fixed bytes, 505 for a class
 * other than basic (no other class has content), 502 for bad property flags, malformed or trailing properties.
 */
export function decodeContentHeader(payload: Buffer): ContentHeader {
  if (payload.length < 14) throw new AmqpDecodeError(CodecReplyCode.FrameError, `content header payload of ${payload.length} bytes (needs 14)`);
  const classId = payload.readUInt16BE(0);
  if (classId !== BASIC_CLASS_ID) throw new AmqpDecodeError(CodecReplyCode.UnexpectedFrame, `content header for class ${classId}, expected ${BASIC_CLASS_ID}`, classId);
  const weight = payload.readUInt16BE(2);
  const bodySize = payload.readBigUInt64BE(4);
  const r = new AmqpReader(payload, 12);
  r.classId = classId;
  const properties = readBasicProperties(r);
  r.done('content header properties');
  return { classId, weight, bodySize, properties };
}

/** A whole content header frame (type 2) for a basic-class message. */
export function encodeContentHeaderFrame(channel: number, bodySize: bigint | number, props: BasicProperties): Buffer {
  const size = typeof bodySize === 'bigint' ? bodySize : BigInt(bodySize);
  if (size < 0n || size > UINT64_MAX) throw new RangeError(`body size out of range: ${size}`);
  const w = scratchWriter.reset();
  w.octet(FrameType.Header);
  w.short(channel);
  w.pos += 4;
  w.short(BASIC_CLASS_ID);
  w.short(0);
  w.longlong(size);
  writeBasicProperties(w, props);
  w.octet(FRAME_END);
  w.buf.writeUInt32BE(w.pos - 8, 3);
  return w.take();
}

/** Property flags + properties alone (e.g. to keep a message's AMQP properties verbatim). */
export function encodeBasicProperties(props: BasicProperties): Buffer {
  const w = new AmqpWriter(128);
  writeBasicProperties(w, props);
  return w.take();
}

/** Inverse of encodeBasicProperties; AmqpDecodeError (502) if malformed or not fully consumed. */
export function decodeBasicProperties(buf: Buffer): BasicProperties {
  const r = new AmqpReader(buf);
  const p = readBasicProperties(r);
  r.done('basic properties');
  return p;
}
