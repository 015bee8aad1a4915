// ReadyIndex: the in-memory index of a queue's ready records (design.md §3): offset, size, expiry and
// delivery count in typed-array rings, one ring per priority level; no bodies, no per-message objects.
// About 22 bytes per ready message (plus ring slack). Requeued records go back to their original
// position: a small sorted side list per level is merged with the ring head by lowest offset.

/** One ready entry, read out into a reusable slot. */
export interface ReadyEntry {
  offset: number;
  sizeBytes: number;
  /** ms since epoch; 0 = never. */
  expiresAt: number;
  deliveryCount: number;
  priority: number;
}

export const newReadyEntry = (): ReadyEntry => ({ offset: 0, sizeBytes: 0, expiresAt: 0, deliveryCount: 0, priority: 0 });

class Ring {
  offsets = new Float64Array(16);
  expires = new Float64Array(16);
  sizes = new Uint32Array(16);
  counts = new Uint16Array(16);
  head = 0;
  length = 0;

  private grow(): void {
    const cap = this.offsets.length * 2;
    const move = <T extends Float64Array | Uint32Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      for (let i = 0; i < this.length; i++) b[i] = a[(this.head + i) % a.length]!;
      return b;
    };
    this.offsets = move(this.offsets, (n) => new Float64Array(n));
    this.expires = move(this.expires, (n) => new Float64Array(n));
    this.sizes = move(this.sizes, (n) => new Uint32Array(n));
    this.counts = move(this.counts, (n) => new Uint16Array(n));
    this.head = 0;
  }

  push(offset: number, size: number, expiresAt: number, count: number): void {
    if (this.length === this.offsets.length) this.grow();
    const i = (this.head + this.length) % this.offsets.length;
    this.offsets[i] = offset;
    this.sizes[i] = size;
    this.expires[i] = expiresAt;
    this.counts[i] = Math.min(count, 0xffff);
    this.length++;
  }

  read(into: ReadyEntry): void {
    const i = this.head;
    into.offset = this.offsets[i]!;
    into.sizeBytes = this.sizes[i]!;
    into.expiresAt = this.expires[i]!;
    into.deliveryCount = this.counts[i]!;
  }

  shift(): void {
    this.head = (this.head + 1) % this.offsets.length;
    this.length--;
    if (this.length === 0) this.head = 0;
  }
}

/** Sorted (by offset) side list of requeued entries of one level; usually short. */
class SortedSide {
  offsets: number[] = [];
  sizes: number[] = [];
  expires: number[] = [];
  counts: number[] = [];

  insert(offset: number, size: number, expiresAt: number, count: number): void {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    this.offsets.splice(lo, 0, offset);
    this.sizes.splice(lo, 0, size);
    this.expires.splice(lo, 0, expiresAt);
    this.counts.splice(lo, 0, count);
  }

  read(into: ReadyEntry): void {
    into.offset = this.offsets[0]!;
    into.sizeBytes = this.sizes[0]!;
    into.expiresAt = this.expires[0]!;
    into.deliveryCount = this.counts[0]!;
  }

  shift(): void {
    this.offsets.shift();
    this.sizes.shift();
    this.expires.shift();
    this.counts.shift();
  }
}

class Level {
  ring = new Ring();
  side = new SortedSide();
  get length(): number {
    return this.ring.length + this.side.offsets.length;
  }
  /** true when the next entry comes from the side list. */
  sideFirst(): boolean {
    if (this.side.offsets.length === 0) return false;
    if (this.ring.length === 0) return true;
    return this.side.offsets[0]! < this.ring.offsets[this.ring.head]!;
  }
}

export class ReadyIndex {
  private readonly levels: Level[];
  private total = 0;
  private bytes = 0;
  private lastPushed = -1;

  /** maxPriority 0 = no priorities (one level). */
  constructor(readonly maxPriority = 0) {
    this.levels = Array.from({ length: maxPriority + 1 }, () => new Level());
  }

  get length(): number {
    return this.total;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  private level(priority: number): number {
    return priority <= 0 ? 0 : priority >= this.maxPriority ? this.maxPriority : priority;
  }

  /** Appends a newly published record; offsets must increase. */
  push(offset: number, sizeBytes: number, priority: number, expiresAt: number, deliveryCount = 0): void {
    if (offset <= this.lastPushed) throw new RangeError(`ReadyIndex.push: offset ${offset} after ${this.lastPushed}`);
    this.lastPushed = offset;
    this.levels[this.level(priority)]!.ring.push(offset, sizeBytes, expiresAt, deliveryCount);
    this.total++;
    this.bytes += sizeBytes;
  }

  /** Returns a record to the ready set at its original position. */
  requeue(offset: number, sizeBytes: number, priority: number, expiresAt: number, deliveryCount: number): void {
    const l = this.levels[this.level(priority)]!;
    if (offset > this.lastPushed && l.side.offsets.length === 0) {
      this.lastPushed = offset;
      l.ring.push(offset, sizeBytes, expiresAt, deliveryCount);
    } else l.side.insert(offset, sizeBytes, expiresAt, deliveryCount);
    this.total++;
    this.bytes += sizeBytes;
  }

  private top(): number {
    for (let p = this.maxPriority; p >= 0; p--) if (this.levels[p]!.length > 0) return p;
    return -1;
  }

  /** Reads the next entry (highest priority, lowest offset) into `into` without removing it. */
  peek(into: ReadyEntry): boolean {
    const p = this.top();
    if (p < 0) return false;
    const l = this.levels[p]!;
    if (l.sideFirst()) l.side.read(into);
    else l.ring.read(into);
    into.priority = p;
    return true;
  }

  /** Removes and returns the next entry into `into`. */
  shift(into: ReadyEntry): boolean {
    const p = this.top();
    if (p < 0) return false;
    return this.takeFrom(p, into);
  }

  private takeFrom(p: number, into: ReadyEntry): boolean {
    const l = this.levels[p]!;
    if (l.sideFirst()) {
      l.side.read(into);
      l.side.shift();
    } else {
      l.ring.read(into);
      l.ring.shift();
    }
    into.priority = p;
    this.total--;
    this.bytes -= into.sizeBytes;
    return true;
  }

  /** Removes the entry with the lowest offset of all levels (the oldest: drop-head overflow). */
  shiftOldest(into: ReadyEntry): boolean {
    let best = -1;
    let bestOffset = Infinity;
    for (let p = 0; p <= this.maxPriority; p++) {
      const l = this.levels[p]!;
      if (l.length === 0) continue;
      const o = l.sideFirst() ? l.side.offsets[0]! : l.ring.offsets[l.ring.head]!;
      if (o < bestOffset) {
        bestOffset = o;
        best = p;
      }
    }
    return best >= 0 && this.takeFrom(best, into);
  }

  clear(): void {
    for (let p = 0; p <= this.maxPriority; p++) this.levels[p] = new Level();
    this.total = 0;
    this.bytes = 0;
  }
}
