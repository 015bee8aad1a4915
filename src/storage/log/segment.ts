// One segment of a partition log: `<base>.log` (RecordBatch v2 batches back to back), `<base>.index`
// (sparse offset index: u32 relative offset, u32 file position, one entry every indexIntervalBytes) and
// `<base>.timeindex` (i64 largest timestamp so far, u32 relative offset of the batch that begins there).
// The indexes live in memory as typed arrays and are appended to their files as they grow.
import { StorageError, toStorageError } from '../../lib/errors.js';
import { childLogger } from '../../lib/logger.js';
import { joinPath, type FileHandle, type FileSystem } from '../fs/file-system.js';
import { BATCH_LENGTH_PREFIX_BYTES, batchBaseOffset, batchLastOffsetDelta, batchMaxTimestamp, checkBatch } from './record-batch.js';

const OFFSET_ENTRY_BYTES = 8;
const TIME_ENTRY_BYTES = 12;

export const segmentName = (base: number) => String(base).padStart(20, '0');

/** Growable pair of u32/f64 columns. */
class Column {
  a: Float64Array = new Float64Array(16);
  b: Float64Array = new Float64Array(16);
  length = 0;
  push(x: number, y: number): void {
    if (this.length === this.a.length) {
      const a = new Float64Array(this.a.length * 2);
      a.set(this.a);
      this.a = a;
      const b = new Float64Array(this.b.length * 2);
      b.set(this.b);
      this.b = b;
    }
    this.a[this.length] = x;
    this.b[this.length] = y;
    this.length++;
  }
  /** Index of the last entry whose `a` is <= x, or -1. */
  floor(x: number): number {
    let lo = 0;
    let hi = this.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.a[mid]! <= x) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
}

export class Segment {
  private readonly log = childLogger('storage');
  /** (relative offset, position) */
  readonly offsetIndex = new Column();
  /** (max timestamp so far, relative offset) */
  readonly timeIndex = new Column();
  nextOffset: number;
  maxTimestamp = -1;
  /** Wall-clock time of the first append into this segment (for rolling by age). */
  firstAppendMs = -1;
  private lastIndexedPos = 0;
  private pendingIndexWrites: Buffer[] = [];
  private pendingTimeWrites: Buffer[] = [];
  /** Index writes queued behind log appends, in order. */
  private indexTail: Promise<void> = Promise.resolve();
  private indexFailed: Error | undefined;
  /** File position after the last whole append (what `nextOffset` counts). */
  endPosition = 0;
  /**
   * Bytes of this segment readers may see (the partition log's durable end inside it, design: visibility):
   * at most endPosition, always on a batch boundary.
   */
  visibleBytes = 0;
  /** Reads in flight on this segment's files; its handles are closed only when none is. */
  private users = 0;
  private closing: Promise<void> | undefined;
  private idle: (() => void) | undefined;

  private constructor(
    readonly fs: FileSystem,
    readonly dir: string,
    readonly baseOffset: number,
    readonly file: FileHandle,
    private readonly indexFile: FileHandle,
    private readonly timeFile: FileHandle,
    private readonly indexIntervalBytes: number,
  ) {
    this.nextOffset = baseOffset;
  }

  get path(): string {
    return joinPath(this.dir, segmentName(this.baseOffset) + '.log');
  }

  get sizeBytes(): number {
    return this.file.size;
  }

  /** A new empty segment; `syncDir` false leaves the directory entry unsynced (an ephemeral log). */
  static async create(fs: FileSystem, dir: string, base: number, indexIntervalBytes: number, syncDir = true): Promise<Segment> {
    const name = joinPath(dir, segmentName(base));
    const file = await fs.open(name + '.log', 'rw');
    const idx = await fs.open(name + '.index', 'rw');
    const tix = await fs.open(name + '.timeindex', 'rw');
    if (file.size > 0 || idx.size > 0 || tix.size > 0) {
      await file.truncate(0);
      await idx.truncate(0);
      await tix.truncate(0);
    }
    if (syncDir) await fs.syncDir(dir);
    return new Segment(fs, dir, base, file, idx, tix, indexIntervalBytes);
  }

  /**
   * Opens an existing segment: loads its indexes (rebuilding them if they disagree with the log), then
   * scans only the tail from the last index entry. A bad batch in the tail is truncated when `isLast`
   * (a torn write); in an older segment it is corruption and refused.
   */
  static async open(fs: FileSystem, dir: string, base: number, indexIntervalBytes: number, isLast: boolean): Promise<Segment> {
    const name = joinPath(dir, segmentName(base));
    const file = await fs.open(name + '.log', 'rw');
    const idx = await fs.open(name + '.index', 'rw');
    const tix = await fs.open(name + '.timeindex', 'rw');
    const seg = new Segment(fs, dir, base, file, idx, tix, indexIntervalBytes);
    try {
      const indexOk = await seg.loadIndexes();
      if (!indexOk) {
        seg.log.warn({ file: name + '.index', reason: 'index disagrees with its segment' }, 'rebuilding segment indexes');
        await seg.resetIndexes();
      }
      await seg.scanTail(isLast);
      seg.endPosition = seg.visibleBytes = seg.file.size;
    } catch (err) {
      await seg.close();
      throw err;
    }
    return seg;
  }

  private async loadIndexes(): Promise<boolean> {
    const size = this.file.size;
    const ib = Buffer.allocUnsafe(this.indexFile.size);
    await this.indexFile.read(ib, 0, ib.length, 0);
    const tb = Buffer.allocUnsafe(this.timeFile.size);
    await this.timeFile.read(tb, 0, tb.length, 0);
    if (ib.length % OFFSET_ENTRY_BYTES !== 0 || tb.length % TIME_ENTRY_BYTES !== 0) return false;
    let prevRel = -1;
    let prevPos = -1;
    for (let p = 0; p < ib.length; p += OFFSET_ENTRY_BYTES) {
      const rel = ib.readUInt32BE(p);
      const pos = ib.readUInt32BE(p + 4);
      if (rel <= prevRel || pos <= prevPos || pos >= size) return false;
      this.offsetIndex.push(rel, pos);
      prevRel = rel;
      prevPos = pos;
    }
    this.lastIndexedPos = prevPos < 0 ? 0 : prevPos;
    let prevTs = -Infinity;
    for (let p = 0; p < tb.length; p += TIME_ENTRY_BYTES) {
      const ts = Number(tb.readBigInt64BE(p));
      const rel = tb.readUInt32BE(p + 8);
      if (ts < prevTs) return false;
      this.timeIndex.push(ts, rel);
      prevTs = ts;
    }
    return true;
  }

  private async resetIndexes(): Promise<void> {
    this.offsetIndex.length = 0;
    this.timeIndex.length = 0;
    this.lastIndexedPos = 0;
    await this.indexFile.truncate(0);
    await this.timeFile.truncate(0);
  }

  private async scanTail(isLast: boolean): Promise<void> {
    const last = this.offsetIndex.length - 1;
    let pos = last >= 0 ? this.offsetIndex.b[last]! : 0;
    const size = this.file.size;
    const buf = Buffer.allocUnsafe(size - pos);
    await this.file.read(buf, 0, buf.length, pos);
    let p = 0;
    let expected = last >= 0 ? this.baseOffset + this.offsetIndex.a[last]! : this.baseOffset;
    let maxTs = this.timeIndex.length > 0 ? this.timeIndex.a[this.timeIndex.length - 1]! : -1;
    while (p < buf.length) {
      const check = checkBatch(buf, p, buf.length);
      let reason: string | undefined = check.ok ? undefined : check.reason;
      if (check.ok && batchBaseOffset(buf, p) !== expected && !(p === 0 && last < 0 && batchBaseOffset(buf, p) === this.baseOffset)) reason = 'offset_gap';
      if (check.ok && p === 0 && last >= 0 && batchBaseOffset(buf, p) !== expected) reason = 'index_mismatch';
      if (reason !== undefined) {
        if (reason === 'index_mismatch') {
          // The index points somewhere else than its entry says: rebuild from the start.
          await this.resetIndexes();
          return this.scanTail(isLast);
        }
        const at = pos + p;
        if (!isLast) throw new StorageError('CORRUPT', `segment ${this.path} is corrupt at position ${at} (${reason}) and is not the last segment`, this.path, at);
        this.log.warn({ file: this.path, position: at, reason, droppedBytes: size - at }, 'torn or corrupt tail truncated');
        await this.truncateTo(at);
        break;
      }
      const len = (check as { sizeBytes: number }).sizeBytes;
      if (p > 0 || last < 0) this.noteBatch(expected, pos + p, maxTs, false);
      const ts = batchMaxTimestamp(buf, p);
      if (ts > maxTs) maxTs = ts;
      expected = batchBaseOffset(buf, p) + batchLastOffsetDelta(buf, p) + 1;
      p += len;
    }
    this.nextOffset = expected;
    this.maxTimestamp = maxTs;
    if (this.pendingIndexWrites.length > 0) {
      await this.indexFile.append(this.pendingIndexWrites);
      await this.timeFile.append(this.pendingTimeWrites);
      this.pendingIndexWrites = [];
      this.pendingTimeWrites = [];
    }
  }

  private async truncateTo(position: number): Promise<void> {
    await this.file.truncate(position);
    await this.file.sync();
    let n = this.offsetIndex.length;
    while (n > 0 && this.offsetIndex.b[n - 1]! >= position) n--;
    if (n !== this.offsetIndex.length) {
      this.offsetIndex.length = n;
      this.timeIndex.length = Math.min(this.timeIndex.length, n);
      await this.indexFile.truncate(n * OFFSET_ENTRY_BYTES);
      await this.timeFile.truncate(this.timeIndex.length * TIME_ENTRY_BYTES);
    }
    this.lastIndexedPos = n > 0 ? this.offsetIndex.b[n - 1]! : 0;
  }

  /**
   * Index entries for a batch at `position` when it lies indexIntervalBytes or more past the last entry.
   * `maxTsBefore` is the largest timestamp of the records before this batch (so a time lookup may start
   * at the last entry whose value is below the target).
   */
  private noteBatch(baseOffset: number, position: number, maxTsBefore: number, persist: boolean): Buffer[] | undefined {
    if (position === 0 || position - this.lastIndexedPos < this.indexIntervalBytes) return undefined;
    this.lastIndexedPos = position;
    const rel = baseOffset - this.baseOffset;
    this.offsetIndex.push(rel, position);
    this.timeIndex.push(maxTsBefore, rel);
    const ie = Buffer.allocUnsafe(OFFSET_ENTRY_BYTES);
    ie.writeUInt32BE(rel, 0);
    ie.writeUInt32BE(position, 4);
    const te = Buffer.allocUnsafe(TIME_ENTRY_BYTES);
    te.writeBigInt64BE(BigInt(maxTsBefore), 0);
    te.writeUInt32BE(rel, 8);
    if (persist) return [ie, te];
    // Entries found while scanning at open are written back, so the next open scans less.
    this.pendingIndexWrites.push(ie);
    this.pendingTimeWrites.push(te);
    return undefined;
  }

  /**
   * Appends already validated buffers of batches (base offsets assigned by the caller) with one gather
   * write. `batchStarts[i]` lists where each batch begins inside `bufs[i]`. Index files are appended after
   * the log write: an index may lag its log, never lead it.
   */
  async append(bufs: readonly Buffer[], batchStarts: ReadonlyArray<readonly number[]>, nowMs: number): Promise<void> {
    if (this.indexFailed) throw this.indexFailed;
    const position = this.file.size;
    try {
      await this.file.append(bufs);
    } catch (err) {
      await this.file.truncate(position).catch(() => undefined);
      throw toStorageError(err, this.path);
    }
    if (this.firstAppendMs < 0) this.firstAppendMs = nowMs;
    let total = 0;
    for (const b of bufs) total += b.length;
    this.endPosition = position + total;
    const idxEntries: Buffer[] = [];
    const timeEntries: Buffer[] = [];
    let bufPosition = position;
    for (let b = 0; b < bufs.length; b++) {
      const buf = bufs[b]!;
      const starts = batchStarts[b]!;
      for (let i = 0; i < starts.length; i++) {
        const start = starts[i]!;
        const e = this.noteBatch(batchBaseOffset(buf, start), bufPosition + start, this.maxTimestamp, true);
        const ts = batchMaxTimestamp(buf, start);
        if (ts > this.maxTimestamp) this.maxTimestamp = ts;
        if (e) {
          idxEntries.push(e[0]!);
          timeEntries.push(e[1]!);
        }
      }
      bufPosition += buf.length;
    }
    const lastBuf = bufs[bufs.length - 1]!;
    const lastStarts = batchStarts[batchStarts.length - 1]!;
    const lastStart = lastStarts[lastStarts.length - 1]!;
    this.nextOffset = batchBaseOffset(lastBuf, lastStart) + batchLastOffsetDelta(lastBuf, lastStart) + 1;
    if (idxEntries.length > 0) {
      // Index files are written behind the log (never ahead of it) without holding up the append: the
      // entries are already in memory, and an index that lags its log is completed by the scan at open.
      this.indexTail = this.indexTail.then(() => this.writeIndexEntries(idxEntries, timeEntries));
    }
  }

  private async writeIndexEntries(idx: Buffer[], time: Buffer[]): Promise<void> {
    if (this.indexFailed) return;
    try {
      await this.indexFile.append(idx);
      await this.timeFile.append(time);
    } catch (err) {
      this.indexFailed = toStorageError(err, joinPath(this.dir, segmentName(this.baseOffset) + '.index'));
    }
  }

  /** Waits for index writes queued so far; rejects if one failed. */
  async flushIndexes(): Promise<void> {
    await this.indexTail;
    if (this.indexFailed) throw this.indexFailed;
  }

  /**
   * Recovery after a disk fault (see FilePartitionLog): the bytes from `from` (the durable end) to
   * endPosition are read back, checked batch by batch and written again in place, whatever a failed write
   * left after endPosition is cut off, and all is fsync'd; index files are rewritten from memory if an index
   * write failed. Nothing moves (offsets and positions stay), and nothing written whole is removed: after
   * a failed fdatasync the kernel may have dropped those pages' dirty state, so they are dirtied again
   * rather than trusted. Throws (the log stays failed) while the disk still fails.
   */
  async rewriteTail(from: number): Promise<void> {
    await this.indexTail;
    const end = this.endPosition;
    const tail = Buffer.allocUnsafe(end - from);
    const n = await this.file.read(tail, 0, tail.length, from);
    let p = 0;
    while (p < n) {
      const c = checkBatch(tail, p, n);
      if (!c.ok) break;
      p += c.sizeBytes;
    }
    if (p !== tail.length) {
      throw new StorageError('CORRUPT', `segment ${this.path}: its unsynced tail read back does not check at position ${from + p} (${end - from - p} bytes); restart to truncate it`, this.path, from + p);
    }
    if (tail.length > 0) await this.file.writeAt(tail, from);
    if (this.file.size !== end) await this.file.truncate(end);
    await this.file.sync();
    if (this.indexFailed) {
      const ib = Buffer.allocUnsafe(this.offsetIndex.length * OFFSET_ENTRY_BYTES);
      for (let i = 0; i < this.offsetIndex.length; i++) {
        ib.writeUInt32BE(this.offsetIndex.a[i]!, i * OFFSET_ENTRY_BYTES);
        ib.writeUInt32BE(this.offsetIndex.b[i]!, i * OFFSET_ENTRY_BYTES + 4);
      }
      const tb = Buffer.allocUnsafe(this.timeIndex.length * TIME_ENTRY_BYTES);
      for (let i = 0; i < this.timeIndex.length; i++) {
        tb.writeBigInt64BE(BigInt(this.timeIndex.a[i]!), i * TIME_ENTRY_BYTES);
        tb.writeUInt32BE(this.timeIndex.b[i]!, i * TIME_ENTRY_BYTES + 8);
      }
      for (const [f, b] of [[this.indexFile, ib], [this.timeFile, tb]] as const) {
        await f.truncate(0);
        await f.append([b]);
        await f.sync();
      }
      this.indexFailed = undefined;
    }
  }

  /** File position of the batch holding `offset` (the scan starts at the nearest index entry below it). */
  async positionOf(offset: number): Promise<number> {
    const i = this.offsetIndex.floor(offset - this.baseOffset);
    let pos = i >= 0 ? this.offsetIndex.b[i]! : 0;
    const head = Buffer.allocUnsafe(BATCH_LENGTH_PREFIX_BYTES + 15);
    const size = this.file.size;
    while (pos < size) {
      const n = await this.file.read(head, 0, head.length, pos);
      if (n < head.length) break;
      const last = batchBaseOffset(head, 0) + batchLastOffsetDelta(head, 0);
      if (last >= offset) return pos;
      pos += head.readInt32BE(8) + BATCH_LENGTH_PREFIX_BYTES;
    }
    return size;
  }

  /** File position from which every batch may hold a record with timestamp >= ts. */
  positionForTimestamp(ts: number): number {
    // Entries hold the max timestamp seen before their batch; the last entry whose max < ts is a safe start.
    let lo = 0;
    let hi = this.timeIndex.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.timeIndex.a[mid]! < ts) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (ans < 0) return 0;
    const rel = this.timeIndex.b[ans]!;
    const i = this.offsetIndex.floor(rel);
    return i >= 0 ? this.offsetIndex.b[i]! : 0;
  }

  sync(): Promise<void> {
    return this.file.sync();
  }

  async syncAll(): Promise<void> {
    await this.flushIndexes();
    await this.file.sync();
    await this.indexFile.sync();
    await this.timeFile.sync();
  }

  /**
   * A read is about to use this segment's files: they stay open until the matching release(), even if the
   * segment is closed or removed meanwhile (retention racing a read). Call synchronously with the lookup
   * that found the segment.
   */
  acquire(): void {
    this.users++;
  }

  release(): void {
    if (--this.users === 0 && this.idle) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }

  /** Closes the files once every read in flight on them has finished (idempotent). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.users > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      await this.indexTail;
      await Promise.allSettled([this.file.close(), this.indexFile.close(), this.timeFile.close()]);
    })();
    return this.closing;
  }

  /**
   * Unlinks the segment's files now and closes them once no read is using them: a read in flight finishes
   * on the open handles (POSIX keeps an unlinked file's data until its last descriptor closes).
   */
  async remove(): Promise<void> {
    const closed = this.close();
    const name = joinPath(this.dir, segmentName(this.baseOffset));
    for (const ext of ['.log', '.index', '.timeindex']) await this.fs.unlink(name + ext).catch(() => undefined);
    if (this.users === 0) await closed;
    else void closed.catch((err: Error) => this.log.warn({ file: this.path, err: err.message }, 'closing a removed segment failed'));
  }
}
