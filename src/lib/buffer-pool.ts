// A pool of large buffers (request frames, log reads) so that megabyte-sized I/O does not allocate and
// free fresh memory each time: every fresh large ArrayBuffer costs page faults, and their churn drives
// V8's full collections. Buffers come in power-of-two classes; a buffer is handed out as a view of its
// slab and goes back to the pool only through `release` by the one owner that knows nothing else holds it
// (a buffer never released is simply garbage-collected, so forgetting is safe and releasing early is not).

export interface BufferPoolOptions {
  /** Requests below this size are plain allocations. */
  minBytes?: number;
  /** Requests above this size are plain allocations. */
  maxBytes?: number;
  /** Free slabs kept, in bytes, across all classes. */
  freeBytesMax?: number;
}

export class BufferPool {
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly freeBytesMax: number;
  /** Free slabs per class (log2 of the slab size). */
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  /** Classes acquired since the last trimIdle(). */
  private readonly usedSinceTrim = new Set<number>();
  /** Slabs handed out and not yet released. */
  private readonly inUse = new WeakSet<ArrayBuffer>();

  constructor(opts: BufferPoolOptions = {}) {
    this.minBytes = opts.minBytes ?? 64 * 1024;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.freeBytesMax = opts.freeBytesMax ?? 128 * 1024 * 1024;
  }

  /** A buffer of exactly `size` bytes (uninitialised). */
  acquire(size: number): Buffer {
    if (size < this.minBytes || size > this.maxBytes) return Buffer.allocUnsafeSlow(size);
    const cls = Math.ceil(Math.log2(size));
    this.usedSinceTrim.add(cls);
    const list = this.free.get(cls);
    let slab = list?.pop();
    if (slab) this.freeBytes -= slab.length;
    else slab = Buffer.allocUnsafeSlow(2 ** cls);
    this.inUse.add(slab.buffer as ArrayBuffer);
    return slab.subarray(0, size);
  }

  /** Returns the slab behind `buf` (any view of it) to the pool; other buffers are ignored. */
  release(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (!this.inUse.has(ab)) return;
    this.inUse.delete(ab);
    if (this.freeBytes + ab.byteLength > this.freeBytesMax) return;
    const cls = Math.log2(ab.byteLength);
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(Buffer.from(ab));
    this.freeBytes += ab.byteLength;
  }

  get freeSizeBytes(): number {
    return this.freeBytes;
  }

  /** Drops every free slab. */
  trim(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Drops the free slabs of every class that was not acquired since the last call. */
  trimIdle(): void {
    for (const [cls, list] of this.free) {
      if (this.usedSinceTrim.has(cls)) continue;
      for (const b of list) this.freeBytes -= b.length;
      this.free.delete(cls);
    }
    this.usedSinceTrim.clear();
  }
}

/** The process-wide pool for request frames and log reads. */
export const largeBuffers = new BufferPool();
/** Memory that a burst of large I/O left in the pool goes back once that size has been idle a while. */
const IDLE_TRIM_MS = 30_000;
setInterval(() => largeBuffers.trimIdle(), IDLE_TRIM_MS).unref();
