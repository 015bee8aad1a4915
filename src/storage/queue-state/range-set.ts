// A set of non-negative integers shaped like a queue's settled offsets: everything below `low` is in
// the set (one number), and members above it are bits in a bitmap window starting near `low`. Settling in
// any order is O(1) per member (plus amortised window moves); memory is one bit per offset of the
// unsettled span, never per settled message. (design.md §2: "ranges or bitmaps".)
export class RangeSet {
  /** Every integer < low is a member; low itself is not. */
  private low = 0;
  /** Offset of bit 0 of words[0]; a multiple of 32, <= low. */
  private base = 0;
  private words = new Uint32Array(64);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get rangeCount(): number {
    return this.ranges().length;
  }

  private bit(x: number): boolean {
    const i = x - this.base;
    if (i < 0 || i >= this.words.length * 32) return false;
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  has(x: number): boolean {
    return x < this.low || this.bit(x);
  }

  add(x: number): boolean {
    return this.addRange(x, x + 1) > 0;
  }

  /** Adds [start, end); returns how many integers were new. */
  addRange(start: number, end: number): number {
    if (start < this.low) start = this.low;
    if (end <= start) return 0;
    if (start === this.low && this.wordIndexEmptyFrom(start, end)) {
      // Common case: a prefix right at the low watermark, nothing set above it in the way.
      this.count += end - start;
      this.low = end;
      this.advanceLow();
      return end - start;
    }
    this.ensure(end);
    let added = 0;
    let i = start - this.base;
    const last = end - this.base;
    while (i < last) {
      const w = i >>> 5;
      const from = i & 31;
      const to = Math.min(32, from + (last - i));
      const mask = to - from === 32 ? 0xffffffff : (((1 << (to - from)) - 1) << from) >>> 0;
      const old = this.words[w]!;
      added += popcount((~old & mask) >>> 0);
      this.words[w] = (old | mask) >>> 0;
      i += to - from;
    }
    this.count += added;
    this.advanceLow();
    return added;
  }

  /** True when no bit is set in [start, end) (checked only over the window that exists). */
  private wordIndexEmptyFrom(start: number, end: number): boolean {
    const lastBit = (this.words.length << 5) + this.base;
    const stop = Math.min(end, lastBit);
    for (let x = start; x < stop; ) {
      const i = x - this.base;
      if ((i & 31) === 0 && stop - x >= 32) {
        if (this.words[i >>> 5] !== 0) return false;
        x += 32;
      } else {
        if (this.bit(x)) return false;
        x++;
      }
    }
    return true;
  }

  private ensure(end: number): void {
    const needWords = Math.floor((end - this.base + 31) / 32) + 1;
    if (needWords <= this.words.length) return;
    let n = this.words.length;
    while (n < needWords) n *= 2;
    const w = new Uint32Array(n);
    w.set(this.words);
    this.words = w;
  }

  private advanceLow(): void {
    for (;;) {
      const i = this.low - this.base;
      if (i >= this.words.length * 32) break;
      const w = i >>> 5;
      const word = this.words[w]!;
      if ((i & 31) === 0 && word === 0xffffffff) {
        this.low += 32;
        continue;
      }
      if ((word & (1 << (i & 31))) === 0) break;
      this.low++;
    }
    // Slide the window so it starts at low's word once a good part of it lies below low.
    const drop = Math.floor((this.low - this.base) / 32);
    if (drop >= this.words.length) {
      this.words.fill(0);
      this.base += drop * 32;
    } else if (drop > 0 && (drop >= 1024 || drop * 2 >= this.words.length)) {
      this.words.copyWithin(0, drop);
      this.words.fill(0, this.words.length - drop);
      this.base += drop * 32;
    }
  }

  /** The smallest integer >= from that is not in the set. */
  firstGapFrom(from: number): number {
    let x = Math.max(from, this.low);
    while (this.bit(x)) x++;
    return x;
  }

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (this.low > 0) out.push([0, this.low]);
    const endBit = this.base + (this.words.length << 5);
    let x = this.low;
    while (x < endBit) {
      const w = (x - this.base) >>> 5;
      if ((x - this.base) % 32 === 0 && this.words[w] === 0) {
        x += 32;
        continue;
      }
      if (this.bit(x)) {
        const s = x;
        while (x < endBit && this.bit(x)) x++;
        out.push([s, x]);
      } else x++;
    }
    return out;
  }

  clear(): void {
    this.low = 0;
    this.base = 0;
    this.words = new Uint32Array(64);
    this.count = 0;
  }
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
