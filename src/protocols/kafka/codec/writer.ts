// Growable writer for Kafka's wire encodings. Large byte fields (records) can be appended as separate
// buffers without copying: `chunks()` returns the pieces for a gather write.

export class KafkaWriter {
  private buf: Buffer;
  private pos = 0;
  private readonly done: Buffer[] = [];
  private doneBytes = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.doneBytes + this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int8(v: number): void {
    this.room(1);
    this.buf.writeInt8(v, this.pos++);
  }
  bool(v: boolean): void {
    this.int8(v ? 1 : 0);
  }
  int16(v: number): void {
    this.room(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }
  uint16(v: number): void {
    this.room(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  int32(v: number): void {
    this.room(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  uint32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }
  int64(v: bigint): void {
    this.room(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }
  float64(v: number): void {
    this.room(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  uuid(v: Buffer): void {
    this.raw(v.length === 16 ? v : Buffer.alloc(16));
  }
  uvarint(v: number): void {
    this.room(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  raw(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  /** Appends a large buffer by reference (no copy). */
  chunk(b: Buffer): void {
    if (b.length < 1024) return this.raw(b);
    this.done.push(this.buf.subarray(0, this.pos), b);
    this.doneBytes += this.pos + b.length;
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
  }

  private length_(n: number, compact: boolean, wide: boolean): void {
    if (compact) this.uvarint(n + 1);
    else if (wide) this.int32(n);
    else this.int16(n);
  }

  nullableString(v: string | null, compact: boolean): void {
    if (v === null) return this.length_(-1, compact, false);
    const n = Buffer.byteLength(v);
    this.length_(n, compact, false);
    this.room(n);
    this.pos += this.buf.write(v, this.pos);
  }
  string(v: string, compact: boolean): void {
    this.nullableString(v, compact);
  }
  nullableBytes(v: Buffer | null, compact: boolean): void {
    if (v === null) return this.length_(-1, compact, true);
    this.length_(v.length, compact, true);
    this.chunk(v);
  }
  bytes(v: Buffer, compact: boolean): void {
    this.nullableBytes(v, compact);
  }
  arrayLength(n: number | null, compact: boolean): void {
    this.length_(n === null ? -1 : n, compact, true);
  }

  /** The written bytes as pieces (for writev). */
  chunks(): Buffer[] {
    return this.pos > 0 ? [...this.done, this.buf.subarray(0, this.pos)] : [...this.done];
  }

  toBuffer(): Buffer {
    const c = this.chunks();
    return c.length === 1 ? c[0]! : Buffer.concat(c, this.length);
  }
}
