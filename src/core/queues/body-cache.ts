// BodyCache: decoded messages of a queue's ready records, by offset (read ahead from the log, or kept from
// the publish while consumers wait), so that delivery need not read them back. Offsets are dense, so this is a
// ring indexed by offset: no hashing and no per-entry allocation. It starts small and doubles while the span
// of cached offsets outgrows it, up to ENTRIES_MAX; past that, an entry evicts the one in its slot (that body
// is then read from the log when delivered). Bounded in bytes as well.
import type { Message } from '../message.js';

const ENTRIES_MIN = 256;
const ENTRIES_MAX = 16384;

export class BodyCache {
  private offsets = new Float64Array(0);
  private msgs: Array<Message | undefined> = [];
  private mask = -1;
  private count = 0;
  private bytes = 0;

  constructor(readonly bytesMax: number) {}

  get size(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Whether another body of `n` bytes may be kept. */
  hasRoomFor(n: number): boolean {
    return this.bytes + n <= this.bytesMax;
  }

  has(offset: number): boolean {
    return this.count > 0 && this.offsets[offset & this.mask] === offset;
  }

  /** The message at `offset`, removed from the cache; undefined if not cached. */
  take(offset: number): Message | undefined {
    if (this.count === 0) return undefined;
    const i = offset & this.mask;
    if (this.offsets[i] !== offset) return undefined;
    const m = this.msgs[i]!;
    this.offsets[i] = -1;
    this.msgs[i] = undefined;
    this.count--;
    this.bytes -= sizeOf(m);
    return m;
  }

  set(offset: number, m: Message): void {
    if (this.mask < 0) this.resize(ENTRIES_MIN);
    let i = offset & this.mask;
    let at = this.offsets[i]!;
    while (at !== -1 && at !== offset && this.offsets.length < ENTRIES_MAX) {
      this.resize(this.offsets.length * 2);
      i = offset & this.mask;
      at = this.offsets[i]!;
    }
    if (at !== -1) {
      this.count--;
      this.bytes -= sizeOf(this.msgs[i]!);
    }
    this.offsets[i] = offset;
    this.msgs[i] = m;
    this.count++;
    this.bytes += sizeOf(m);
  }

  clear(): void {
    this.offsets = new Float64Array(0);
    this.msgs = [];
    this.mask = -1;
    this.count = 0;
    this.bytes = 0;
  }

  private resize(capacity: number): void {
    const oldOffsets = this.offsets;
    const oldMsgs = this.msgs;
    this.offsets = new Float64Array(capacity).fill(-1);
    this.msgs = new Array<Message | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.count = 0;
    this.bytes = 0;
    for (let k = 0; k < oldOffsets.length; k++) {
      const o = oldOffsets[k]!;
      if (o === -1) continue;
      const i = o & this.mask;
      if (this.offsets[i] !== -1) continue; // cannot happen while growing; drop if it did
      this.offsets[i] = o;
      this.msgs[i] = oldMsgs[k];
      this.count++;
      this.bytes += sizeOf(oldMsgs[k]!);
    }
  }
}

function sizeOf(m: Message): number {
  return (m.value?.length ?? 0) + (m.key?.length ?? 0);
}
