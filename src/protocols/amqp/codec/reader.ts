// Bounds-checked big-endian reader over one frame payload. Every failure is an AmqpDecodeError with the
// reply code given at construction (502 SYNTAX_ERROR for method arguments and properties); no read ever
// goes past `end`, and no allocation is larger than the bytes actually present.
import { AmqpDecodeError, CodecReplyCode } from './decode-error.js';

export class AmqpReader {
  pos: number;
  end: number;
  classId = 0;
  methodId = 0;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
    readonly errorCode: CodecReplyCode = CodecReplyCode.SyntaxError,
  ) {
    this.pos = start;
    this.end = end;
  }

  fail(message: string): never {
    throw new AmqpDecodeError(this.errorCode, message, this.classId, this.methodId);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(`truncated ${what}: need ${n} bytes, have ${this.end - this.pos}`);
  }

  octet(): number {
    if (this.pos >= this.end) this.fail('truncated octet');
    return this.buf[this.pos++]!;
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.pos++);
  }

  short(): number {
    this.need(2, 'short');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  long(): number {
    this.need(4, 'long');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  longlong(): bigint {
    this.need(8, 'longlong');
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  int64(): bigint {
    this.need(8, 'int64');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float(): number {
    this.need(4, 'float');
    const v = this.buf.readFloatBE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8, 'double');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** u8 length + bytes, decoded as UTF-8. */
  shortstr(): string {
    if (this.pos >= this.end) this.fail('truncated shortstr length');
    const n = this.buf[this.pos++]!;
    if (this.end - this.pos < n) this.fail(`shortstr of ${n} bytes overruns the payload`);
    const s = n === 0 ? '' : this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** u32 length + bytes (a copy, so the frame's chunk is not retained). */
  longstr(): Buffer {
    const n = this.long();
    if (this.end - this.pos < n) this.fail(`longstr of ${n} bytes overruns the payload`);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  /** Fails unless every byte was consumed. */
  done(what: string): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes after ${what}`);
  }
}
