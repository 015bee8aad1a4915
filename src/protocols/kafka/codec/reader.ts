// Bounds-checked reader for Kafka's wire encodings (classic and flexible/compact). Every malformed input
// throws KafkaDecodeError; nothing reads out of bounds or allocates from an unchecked length.

export class KafkaDecodeError extends Error {
  override name = 'KafkaDecodeError';
}

export class KafkaReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new KafkaDecodeError(`need ${n} bytes at ${this.pos}, ${this.end - this.pos} left`);
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  uuid(): Buffer {
    this.need(16);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + 16));
    this.pos += 16;
    return v;
  }
  /** Unsigned varint (flexible-version lengths and tags), at most 5 bytes. */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new KafkaDecodeError('uvarint too large');
        return result;
      }
      shift += 7;
    }
    throw new KafkaDecodeError('uvarint longer than 5 bytes');
  }

  /** A length: classic int16/int32 or compact uvarint N+1; -1 means null. */
  private length(compact: boolean, wide: boolean): number {
    const n = compact ? this.uvarint() - 1 : wide ? this.int32() : this.int16();
    if (n < -1) throw new KafkaDecodeError(`negative length ${n}`);
    return n;
  }

  nullableString(compact: boolean): string | null {
    const n = this.length(compact, false);
    if (n < 0) return null;
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  string(compact: boolean): string {
    const s = this.nullableString(compact);
    if (s === null) throw new KafkaDecodeError('null in a non-nullable string');
    return s;
  }
  /** Zero-copy slice. */
  nullableBytes(compact: boolean): Buffer | null {
    const n = this.length(compact, true);
    if (n < 0) return null;
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  bytes(compact: boolean): Buffer {
    const b = this.nullableBytes(compact);
    if (b === null) throw new KafkaDecodeError('null in non-nullable bytes');
    return b;
  }
  /** Array length (null = -1); refuses counts larger than the bytes left could hold. */
  arrayLength(compact: boolean): number {
    const n = this.length(compact, true);
    if (n > this.remaining) throw new KafkaDecodeError(`array of ${n} elements with ${this.remaining} bytes left`);
    return n;
  }
  /** Skips a tagged-field section, returning nothing (unknown tags are ignored). */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      const size = this.uvarint();
      this.need(size);
      this.pos += size;
    }
  }
}
