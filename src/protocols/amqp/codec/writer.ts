// Growable big-endian writer used for frames with field tables (fixed-shape frames are written straight
// into an exactly sized buffer by the generated encoders). One module-level scratch writer is reused:
// encoding is synchronous, and `take()` copies the result out.
import { AmqpEncodeError } from './decode-error.js';
import { AmqpCodecLimits } from './limits.js';

/** A writer grown past this by one large frame drops back to it afterwards. */
const SCRATCH_KEEP_BYTES = 64 * 1024;

export class AmqpWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacity = 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  octet(v: number): void {
    this.ensure(1);
    this.pos = this.buf.writeUInt8(v, this.pos);
  }

  int8(v: number): void {
    this.ensure(1);
    this.pos = this.buf.writeInt8(v, this.pos);
  }

  short(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }

  int16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }

  long(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  int32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }

  longlong(v: bigint): void {
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64BE(v, this.pos);
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.pos = this.buf.writeBigInt64BE(v, this.pos);
  }

  float(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeFloatBE(v, this.pos);
  }

  double(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }

  shortstr(s: string): void {
    // Every UTF-16 unit is at least one UTF-8 byte, and at most three.
    if (s.length > AmqpCodecLimits.shortstrBytesMax) throw shortstrTooLong(s);
    this.ensure(1 + 3 * s.length);
    const n = s.length === 0 ? 0 : this.buf.write(s, this.pos + 1, 'utf8');
    if (n > AmqpCodecLimits.shortstrBytesMax) throw shortstrTooLong(s);
    this.buf[this.pos] = n;
    this.pos += 1 + n;
  }

  longstr(b: Buffer): void {
    this.ensure(4 + b.length);
    this.pos = this.buf.writeUInt32BE(b.length, this.pos);
    this.pos += b.copy(this.buf, this.pos);
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    this.pos += b.copy(this.buf, this.pos);
  }

  /** A fresh exact-size copy of what was written. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    if (this.buf.length > SCRATCH_KEEP_BYTES) this.buf = Buffer.allocUnsafe(SCRATCH_KEEP_BYTES);
    this.pos = 0;
    return out;
  }
}

export function shortstrTooLong(s: string): AmqpEncodeError {
  return new AmqpEncodeError(`shortstr longer than 255 bytes (${Buffer.byteLength(s)}): ${JSON.stringify(s.slice(0, 40))}...`);
}

/** Byte length of a shortstr, validated. */
export function shortstrBytes(s: string): number {
  if (s.length > AmqpCodecLimits.shortstrBytesMax) throw shortstrTooLong(s);
  const n = s.length === 0 ? 0 : Buffer.byteLength(s, 'utf8');
  if (n > AmqpCodecLimits.shortstrBytesMax) throw shortstrTooLong(s);
  return n;
}

/** Reused by all table-carrying encoders (never held across an await). */
export const scratchWriter = new AmqpWriter(4096);
