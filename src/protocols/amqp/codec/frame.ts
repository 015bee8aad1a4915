// AMQP 0-9-1 framing (README §1): the 8-byte protocol header, then frames of
// type u8 | channel u16 | size u32 | payload | 0xCE.
// AmqpFrameParser consumes socket chunks and yields whole frames (payloads are zero-copy slices when a frame
// sits in one chunk). Every protocol violation is an AmqpDecodeError naming the reply code: 501 FRAME_ERROR
// (bad end octet, unknown type, oversize, non-empty heartbeat), 505 UNEXPECTED_FRAME (heartbeat off channel 0);
// a wrong protocol header has `badProtocolHeader` set (answer with PROTOCOL_HEADER and close, no frames).
// After an error the parser stays failed: every later next() throws the same error.
import { AmqpDecodeError, CodecReplyCode } from './decode-error.js';
import { FRAME_END, FRAME_MIN_SIZE, FrameType } from './generated/constants.js';
import { AmqpCodecLimits } from './limits.js';

/** What the server sends for AMQP 0-9-1 (and answers a bad header with). */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
/** RabbitMQ also accepts the 0-9 header (README §1). */
export const PROTOCOL_HEADER_0_9: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);
/** A heartbeat frame (type 8, channel 0, empty). */
export const HEARTBEAT_FRAME: Buffer = Buffer.from([FrameType.Heartbeat, 0, 0, 0, 0, 0, 0, FRAME_END]);
/** type + channel + size. */
export const FRAME_HEADER_BYTES = 7;
/** Header plus end octet: frame-max - 8 is the payload limit. */
export const FRAME_OVERHEAD_BYTES = 8;

export interface AmqpFrame {
  type: 1 | 2 | 3 | 8;
  channel: number;
  payload: Buffer;
}

export interface AmqpProtocolHeader {
  type: 'protocol-header';
  version: '0-9-1' | '0-9';
}

export type AmqpParsed = AmqpFrame | AmqpProtocolHeader;

/**
 * A frame seen in place (AmqpFrameParser.readView): the payload is buf[start, end). buf is the socket chunk
 * itself when the frame sits in one chunk (valid until the next read), else a fresh copy.
 */
export interface AmqpFrameView {
  type: 1 | 2 | 3 | 8;
  channel: number;
  buf: Buffer;
  start: number;
  end: number;
}

export const newFrameView = (): AmqpFrameView => ({ type: 1, channel: 0, buf: EMPTY, start: 0, end: 0 });

/** readView results. */
export const ViewResult = { NeedMore: 0, Frame: 1, ProtocolHeader: 2 } as const;
export type ViewResult = (typeof ViewResult)[keyof typeof ViewResult];

const EMPTY = Buffer.alloc(0);

export interface AmqpFrameParserOptions {
  /** Expect the 8-byte protocol header first (a server: true, the default). */
  expectProtocolHeader?: boolean;
  /** Negotiated frame-max; before tune-ok the JSON's FRAME-MIN-SIZE (8192). 0 = unlimited. */
  frameMax?: number;
}

export class AmqpFrameParser {
  private chunks: Buffer[] = [];
  private head = 0; // index of the first unconsumed chunk
  private off = 0; // offset into chunks[head]
  private buffered = 0;
  private headerPending: boolean;
  private payloadMax: number;
  private failed: AmqpDecodeError | null = null;
  private readonly peek = Buffer.alloc(8);
  /** The header readHeader() last read. */
  private hdrType = 0;
  private hdrChannel = 0;
  private hdrSize = 0;

  constructor(opts: AmqpFrameParserOptions = {}) {
    this.headerPending = opts.expectProtocolHeader ?? true;
    this.payloadMax = 0;
    this.setFrameMax(opts.frameMax ?? FRAME_MIN_SIZE);
  }

  /**
   * Applies a negotiated frame-max (0 = unlimited, capped at AmqpCodecLimits.frameMaxUnlimited). Payloads may
   * be up to frame-max - 8 bytes, plus RabbitMQ's tolerance of 8 (README §1).
   */
  setFrameMax(frameMax: number): void {
    if (!Number.isInteger(frameMax) || frameMax < 0) throw new RangeError(`bad frame-max ${frameMax}`);
    const fm = frameMax === 0 ? AmqpCodecLimits.frameMaxUnlimited : Math.min(frameMax, AmqpCodecLimits.frameMaxUnlimited);
    this.payloadMax = Math.max(0, fm - FRAME_OVERHEAD_BYTES) + AmqpCodecLimits.frameOverheadBytes;
  }

  /** Largest payload accepted now. */
  get payloadBytesMax(): number {
    return this.payloadMax;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** A decode error leaves the reader failed for good (its bytes dropped); any error is rethrown. */
  private fail(err: unknown): never {
    if (err instanceof AmqpDecodeError) {
      this.failed = err;
      this.chunks = [];
      this.head = 0;
      this.off = 0;
      this.buffered = 0;
    }
    throw err;
  }

  /** The next protocol header or frame, or null when more bytes are needed. Throws AmqpDecodeError. */
  next(): AmqpParsed | null {
    if (this.failed) throw this.failed;
    try {
      return this.headerPending ? this.readProtocolHeader() : this.readFrame();
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Like next(), without allocating: fills `v` with the next frame (payload in place). Same errors and the
   * same failed state as next().
   */
  readView(v: AmqpFrameView): ViewResult {
    if (this.failed) throw this.failed;
    try {
      if (this.headerPending) return this.readProtocolHeader() === null ? ViewResult.NeedMore : ViewResult.ProtocolHeader;
      return this.readFrameView(v);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Reads and checks the 7-byte header of the next frame (at least that much is buffered) into hdrType,
   * hdrChannel and hdrSize, without consuming it: instance fields, so no object per frame.
   */
  private readHeader(first: Buffer): void {
    const off = this.off;
    let type: number;
    let channel: number;
    let size: number;
    if (first.length - off >= FRAME_HEADER_BYTES) {
      type = first[off]!;
      channel = (first[off + 1]! << 8) | first[off + 2]!;
      size = first.readUInt32BE(off + 3);
    } else {
      this.copyOut(this.peek, FRAME_HEADER_BYTES);
      type = this.peek[0]!;
      channel = this.peek.readUInt16BE(1);
      size = this.peek.readUInt32BE(3);
    }
    if (type !== FrameType.Method && type !== FrameType.Header && type !== FrameType.Body && type !== FrameType.Heartbeat) {
      throw new AmqpDecodeError(CodecReplyCode.FrameError, `unknown frame type ${type}`);
    }
    if (size > this.payloadMax) {
      throw new AmqpDecodeError(CodecReplyCode.FrameError, `frame payload of ${size} bytes exceeds frame-max (payload limit ${this.payloadMax})`);
    }
    if (type === FrameType.Heartbeat) {
      if (size !== 0) throw new AmqpDecodeError(CodecReplyCode.FrameError, `heartbeat frame with a ${size}-byte payload`);
      if (channel !== 0) throw new AmqpDecodeError(CodecReplyCode.UnexpectedFrame, `heartbeat frame on channel ${channel}`);
    }
    this.hdrType = type;
    this.hdrChannel = channel;
    this.hdrSize = size;
  }

  private readFrameView(v: AmqpFrameView): ViewResult {
    if (this.buffered < FRAME_HEADER_BYTES) return ViewResult.NeedMore;
    let first = this.chunks[this.head]!;
    const off = this.off;
    this.readHeader(first);
    const type = this.hdrType;
    const channel = this.hdrChannel;
    const size = this.hdrSize;
    const total = FRAME_HEADER_BYTES + size + 1;
    if (this.buffered < total) return ViewResult.NeedMore;
    if (first.length - off >= total) {
      // The whole frame is in this chunk: no copy, no slice.
      const end = first[off + total - 1]!;
      if (end !== FRAME_END) {
        throw new AmqpDecodeError(CodecReplyCode.FrameError, `frame end octet 0x${end.toString(16)} instead of 0xce (type ${type}, channel ${channel}, size ${size})`);
      }
      v.type = type as AmqpFrameView['type'];
      v.channel = channel;
      v.buf = first;
      v.start = off + FRAME_HEADER_BYTES;
      v.end = off + FRAME_HEADER_BYTES + size;
      this.skip(total);
      return ViewResult.Frame;
    }
    this.skip(FRAME_HEADER_BYTES);
    let payload: Buffer;
    first = this.chunks[this.head]!;
    if (first.length - this.off >= size) {
      payload = first;
      v.start = this.off;
      this.skip(size);
    } else {
      payload = Buffer.allocUnsafe(size);
      v.start = 0;
      this.copyOut(payload, size);
      this.skip(size);
    }
    const end = this.chunks[this.head]![this.off]!;
    if (end !== FRAME_END) {
      throw new AmqpDecodeError(CodecReplyCode.FrameError, `frame end octet 0x${end.toString(16)} instead of 0xce (type ${type}, channel ${channel}, size ${size})`);
    }
    this.skip(1);
    v.type = type as AmqpFrameView['type'];
    v.channel = channel;
    v.buf = payload;
    v.end = v.start + size;
    return ViewResult.Frame;
  }

  private readProtocolHeader(): AmqpProtocolHeader | null {
    const n = Math.min(this.buffered, 8);
    if (n === 0) return null;
    this.copyOut(this.peek, n);
    const is091 = this.peek.subarray(0, n).equals(PROTOCOL_HEADER.subarray(0, n));
    const is09 = this.peek.subarray(0, n).equals(PROTOCOL_HEADER_0_9.subarray(0, n));
    if (!is091 && !is09) {
      throw new AmqpDecodeError(CodecReplyCode.FrameError, `bad protocol header ${JSON.stringify(this.peek.subarray(0, n).toString('latin1'))}`, 0, 0, true);
    }
    if (n < 8) return null;
    this.skip(8);
    this.headerPending = false;
    return { type: 'protocol-header', version: is091 ? '0-9-1' : '0-9' };
  }

  private readFrame(): AmqpFrame | null {
    if (this.buffered < FRAME_HEADER_BYTES) return null;
    let first = this.chunks[this.head]!;
    this.readHeader(first);
    const type = this.hdrType;
    const channel = this.hdrChannel;
    const size = this.hdrSize;
    const total = FRAME_HEADER_BYTES + size + 1;
    if (this.buffered < total) return null;
    this.skip(FRAME_HEADER_BYTES);
    let payload: Buffer;
    first = this.chunks[this.head]!;
    if (first.length - this.off >= size) {
      payload = first.subarray(this.off, this.off + size);
      this.skip(size);
    } else {
      payload = Buffer.allocUnsafe(size);
      this.copyOut(payload, size);
      this.skip(size);
    }
    const end = this.chunks[this.head]![this.off]!;
    if (end !== FRAME_END) {
      throw new AmqpDecodeError(CodecReplyCode.FrameError, `frame end octet 0x${end.toString(16)} instead of 0xce (type ${type}, channel ${channel}, size ${size})`);
    }
    this.skip(1);
    return { type: type as AmqpFrame['type'], channel, payload };
  }

  /** Copies the first n buffered bytes into dst without consuming them. */
  private copyOut(dst: Buffer, n: number): void {
    let copied = 0;
    let i = this.head;
    let off = this.off;
    while (copied < n) {
      const c = this.chunks[i]!;
      const take = Math.min(c.length - off, n - copied);
      c.copy(dst, copied, off, off + take);
      copied += take;
      i++;
      off = 0;
    }
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const left = c.length - this.off;
      if (n < left) {
        this.off += n;
        return;
      }
      n -= left;
      this.head++;
      this.off = 0;
    }
    if (this.chunks[this.head]?.length === this.off) {
      this.head++;
      this.off = 0;
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

/** A whole frame around a payload. */
export function encodeFrame(type: FrameType, channel: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(FRAME_OVERHEAD_BYTES + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, FRAME_HEADER_BYTES);
  b[FRAME_HEADER_BYTES + payload.length] = FRAME_END;
  return b;
}

const FRAME_END_BYTE: Buffer = Buffer.from([FRAME_END]);

/**
 * Body frames for one message, each holding at most frame-max - 8 bytes (0 = unlimited); none for an empty
 * body. Returns chunks to write in order (a gather write): small bodies come back as one buffer, larger ones
 * as [header, slice of body, end octet] triples so the body is not copied.
 */
export function encodeBodyFrames(channel: number, body: Buffer, frameMax: number): Buffer[] {
  if (body.length === 0) return [];
  if (frameMax !== 0 && frameMax <= FRAME_OVERHEAD_BYTES) throw new RangeError(`frame-max ${frameMax} leaves no room for a body`);
  const per = frameMax === 0 ? 0xffffffff : frameMax - FRAME_OVERHEAD_BYTES;
  const frames = Math.ceil(body.length / per);
  if (body.length <= AmqpCodecLimits.bodyCopyBytesMax) {
    const b = Buffer.allocUnsafe(body.length + frames * FRAME_OVERHEAD_BYTES);
    let p = 0;
    for (let at = 0; at < body.length; at += per) {
      const n = Math.min(per, body.length - at);
      b[p] = FrameType.Body;
      b.writeUInt16BE(channel, p + 1);
      b.writeUInt32BE(n, p + 3);
      body.copy(b, p + FRAME_HEADER_BYTES, at, at + n);
      b[p + FRAME_HEADER_BYTES + n] = FRAME_END;
      p += n + FRAME_OVERHEAD_BYTES;
    }
    return [b];
  }
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += per) {
    const n = Math.min(per, body.length - at);
    const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    h[0] = FrameType.Body;
    h.writeUInt16BE(channel, 1);
    h.writeUInt32BE(n, 3);
    out.push(h, body.subarray(at, at + n), FRAME_END_BYTE);
  }
  return out;
}
