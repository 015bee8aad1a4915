// Zig-zag varints as Kafka's record format uses them (protobuf style). Numbers, not bigints: record
// fields never exceed 2^53.

export function varintSize(value: number): number {
  let v = zigzag(value);
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function writeVarint(buf: Buffer, pos: number, value: number): number {
  let v = zigzag(value);
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Result slot reused by readVarint to avoid an allocation per field. */
export const varintResult = { value: 0, pos: 0 };

/** Reads a zig-zag varint at pos; sets varintResult.value and .pos (the position after it). Throws on overrun. */
export function readVarint(buf: Buffer, pos: number, end: number): void {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new RangeError('varint runs past the end of its batch');
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      varintResult.value = result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      varintResult.pos = pos;
      return;
    }
    mul *= 128;
  }
  throw new RangeError('varint longer than 10 bytes');
}
