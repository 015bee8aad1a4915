// SettlementLog: persistent settlement state of one queue (design.md §2–§3).
//   settlement.snapshot  binary, replaced atomically: [u32 format][f64 seq][u32 nRanges]([f64 start][f64 end])*
//                        [u32 nCounts]([f64 offset][u32 count])*
//   settlement.journal   frames [u32 length][u32 crc32c][payload]; payload = [f64 seq] then ops:
//                        1 = settle range [f64 start][f64 end), 2 = delivered [f64 offset]
// settle()/markDelivered() buffer in memory; one flush per event-loop turn (or on flush()) writes one
// frame, coalescing consecutive offsets into ranges. Compaction writes a snapshot and empties the journal;
// sequence numbers make a crash between the two harmless.
import { crc32c } from '@node-rs/crc32';
import { StorageError, toStorageError } from '../../lib/errors.js';
import { childLogger } from '../../lib/logger.js';
import { joinPath, type FileHandle, type FileSystem } from '../fs/file-system.js';
import { checkFrame, findValidFrameAfter, type FrameLimits } from '../journal-frames.js';
import type { FsyncPolicy } from '../log/types.js';
import { RangeSet } from './range-set.js';
import { DeliveredMark } from './delivered-mark.js';
import type { SettlementLogApi } from './types.js';

const SNAPSHOT = 'settlement.snapshot';
const JOURNAL = 'settlement.journal';
const FORMAT = 1;
const OP_SETTLE = 1;
const OP_DELIVER = 2;
const FRAME_BYTES_MAX = 64 * 1024 * 1024;
/** A failed journal write is retried after this long (and at every flush before then). */
const RETRY_MS = 1000;

/** A payload is a sequence number then whole ops. */
function validPayload(f: Buffer): boolean {
  let p = 8;
  while (p < f.length) {
    if (f[p] === OP_SETTLE) p += 17;
    else if (f[p] === OP_DELIVER) p += 9;
    else return false;
  }
  return p === f.length;
}
const FRAME_LIMITS: FrameLimits = { payloadBytesMin: 8, payloadBytesMax: FRAME_BYTES_MAX, validPayload };

export interface SettlementLogOptions {
  fsync: FsyncPolicy;
  /** Journal size that triggers a compaction. */
  compactBytes?: number;
}

export class SettlementLog implements SettlementLogApi {
  private readonly log = childLogger('storage');
  private readonly settled = new RangeSet();
  private readonly counts = new Map<number, number>();
  private pendingStarts: number[] = [];
  private pendingEnds: number[] = [];
  private pendingDelivered: number[] = [];
  private scheduled = false;
  private tail: Promise<void> = Promise.resolve();
  private seq = 0;
  private closed = false;
  /** Journal size after the last frame written whole: a failed write is cut back to it before the next. */
  private goodEnd = 0;
  private failure: StorageError | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private compactFailing = false;
  /** The journal handle is closed: set on the write chain, so every write queued before it has finished. */
  private journalClosed = false;
  private closing: Promise<void> | undefined;
  /** "Offsets below M may have been delivered" (delivered-mark.ts); set by open(). */
  private mark!: DeliveredMark;

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    private journal: FileHandle,
    private readonly opts: SettlementLogOptions,
  ) {}

  static async open(fs: FileSystem, dir: string, opts: SettlementLogOptions): Promise<SettlementLog> {
    await fs.mkdir(dir);
    const journal = await fs.open(joinPath(dir, JOURNAL), 'rw');
    const s = new SettlementLog(fs, dir, journal, opts);
    try {
      s.mark = await DeliveredMark.open(fs, dir, opts.fsync);
      await fs.syncDir(dir);
      await s.load();
    } catch (err) {
      await journal.close();
      await s.mark?.close().catch(() => undefined);
      throw err;
    }
    return s;
  }

  private async load(): Promise<void> {
    const snapPath = joinPath(this.dir, SNAPSHOT);
    if (await this.fs.exists(snapPath)) {
      const b = await this.fs.readFile(snapPath);
      try {
        let p = 0;
        if (b.readUInt32BE(p) !== FORMAT) throw new Error('unknown format');
        this.seq = b.readDoubleBE(p + 4);
        p += 12;
        const nr = b.readUInt32BE(p);
        p += 4;
        for (let i = 0; i < nr; i++, p += 16) this.settled.addRange(b.readDoubleBE(p), b.readDoubleBE(p + 8));
        const nc = b.readUInt32BE(p);
        p += 4;
        for (let i = 0; i < nc; i++, p += 12) this.counts.set(b.readDoubleBE(p), b.readUInt32BE(p + 8));
      } catch (err) {
        throw new StorageError('CORRUPT', `settlement snapshot ${snapPath} is unreadable: ${(err as Error).message}`, snapPath, 0);
      }
    }
    const size = this.journal.size;
    const buf = Buffer.allocUnsafe(size);
    await this.journal.read(buf, 0, size, 0);
    let pos = 0;
    const path = joinPath(this.dir, JOURNAL);
    while (pos < size) {
      const frame = checkFrame(buf, pos, size, FRAME_LIMITS);
      if (!frame.ok) {
        // A torn tail when nothing valid follows it anywhere; corruption (refused) otherwise: the frames after
        // it hold acknowledged settlements.
        const next = findValidFrameAfter(buf, pos, size, FRAME_LIMITS);
        if (next >= 0) {
          throw new StorageError('CORRUPT', `settlement journal ${path} is corrupt at offset ${pos} (${frame.reason}) and a valid entry follows at offset ${next}`, path, pos);
        }
        this.log.warn({ file: path, position: pos, reason: frame.reason }, 'torn settlement journal tail truncated');
        await this.journal.truncate(pos);
        break;
      }
      this.replayFrame(frame.payload);
      pos = frame.end;
    }
    this.goodEnd = this.journal.size;
  }

  private replayFrame(f: Buffer): void {
    const seq = f.readDoubleBE(0);
    if (seq <= this.seq) return;
    this.seq = seq;
    let p = 8;
    while (p < f.length) {
      const op = f[p]!;
      if (op === OP_SETTLE) {
        const start = f.readDoubleBE(p + 1);
        const end = f.readDoubleBE(p + 9);
        this.applySettle(start, end);
        p += 17;
      } else if (op === OP_DELIVER) {
        const o = f.readDoubleBE(p + 1);
        if (!this.settled.has(o)) this.counts.set(o, (this.counts.get(o) ?? 0) + 1);
        p += 9;
      } else throw new StorageError('CORRUPT', `settlement journal in ${this.dir}: unknown op ${op}`, this.dir);
    }
  }

  private applySettle(start: number, end: number): void {
    this.settled.addRange(start, end);
    if (this.counts.size > 0) {
      if (end - start < this.counts.size) for (let o = start; o < end; o++) this.counts.delete(o);
      else for (const o of this.counts.keys()) if (o >= start && o < end) this.counts.delete(o);
    }
  }

  // ---- state ---------------------------------------------------------------------------------------------

  get lowWatermark(): number {
    return this.settled.firstGapFrom(0);
  }

  isSettled(offset: number): boolean {
    return this.settled.has(offset);
  }

  deliveryCount(offset: number): number {
    return this.counts.get(offset) ?? 0;
  }

  get deliveredMark(): number {
    return this.mark.recovered;
  }

  writeDeliveredMark(mark: number): Promise<void> {
    return this.mark.write(mark);
  }

  settledRanges(): Array<[number, number]> {
    const lw = this.lowWatermark;
    return this.settled.ranges().filter(([, e]) => e > lw);
  }

  get settledAboveLowWatermark(): number {
    return this.settled.size - this.lowWatermark;
  }

  // ---- changes -------------------------------------------------------------------------------------------

  settle(offset: number): void {
    this.settleRange(offset, offset + 1);
  }

  settleRange(start: number, endExclusive: number): void {
    if (endExclusive <= start) return;
    this.applySettle(start, endExclusive);
    const n = this.pendingEnds.length;
    if (n > 0 && this.pendingEnds[n - 1] === start) this.pendingEnds[n - 1] = endExclusive;
    else {
      this.pendingStarts.push(start);
      this.pendingEnds.push(endExclusive);
    }
    this.schedule();
  }

  markDelivered(offset: number): void {
    this.counts.set(offset, (this.counts.get(offset) ?? 0) + 1);
    this.pendingDelivered.push(offset);
    this.schedule();
  }

  /** The last journal write failed (and nothing was written since): settlements stay buffered and are retried. */
  get failed(): StorageError | undefined {
    return this.failure;
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // A failure is logged and retried by writePending (see fail()); nothing else is left to do here.
      this.flush().catch(() => undefined);
    });
  }

  flush(): Promise<void> {
    const run = this.tail.then(() => this.writePending());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writePending(): Promise<void> {
    const starts = this.pendingStarts;
    const ends = this.pendingEnds;
    const delivered = this.pendingDelivered;
    const ns = starts.length;
    const nd = delivered.length;
    if (ns === 0 && nd === 0) return;
    if (this.journalClosed) {
      // Changes made after close (a queue being deleted still settling): there is nowhere to write them.
      this.pendingStarts = [];
      this.pendingEnds = [];
      this.pendingDelivered = [];
      return;
    }
    const payload = Buffer.allocUnsafe(8 + ns * 17 + nd * 9);
    this.seq++;
    payload.writeDoubleBE(this.seq, 0);
    let p = 8;
    // Deliveries first: a delivery and a settle of the same offset in one frame end settled.
    for (const o of delivered) {
      payload[p] = OP_DELIVER;
      payload.writeDoubleBE(o, p + 1);
      p += 9;
    }
    for (let i = 0; i < ns; i++) {
      payload[p] = OP_SETTLE;
      payload.writeDoubleBE(starts[i]!, p + 1);
      payload.writeDoubleBE(ends[i]!, p + 9);
      p += 17;
    }
    this.pendingStarts = [];
    this.pendingEnds = [];
    this.pendingDelivered = [];
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(crc32c(payload), 4);
    try {
      // What a failed write left behind is cut off first: a frame must never follow a damaged one.
      if (this.journal.size !== this.goodEnd) await this.journal.truncate(this.goodEnd);
      await this.journal.append([header, payload]);
      if (this.opts.fsync === 'always') await this.journal.sync();
    } catch (err) {
      await this.journal.truncate(this.goodEnd).catch(() => undefined);
      // None of this frame counts: its changes go back before those buffered since, for the next try.
      this.pendingStarts = starts.concat(this.pendingStarts);
      this.pendingEnds = ends.concat(this.pendingEnds);
      this.pendingDelivered = delivered.concat(this.pendingDelivered);
      throw this.fail(toStorageError(err, joinPath(this.dir, JOURNAL)));
    }
    this.goodEnd = this.journal.size;
    if (this.failure) {
      this.log.warn({ dir: this.dir }, 'settlement journal writes work again');
      this.failure = undefined;
    }
    if (this.journal.size > (this.opts.compactBytes ?? 1024 * 1024)) {
      // The frame is written: a failed compaction is retried at the next write, not reported to this one.
      try {
        await this.compactNow();
        this.compactFailing = false;
      } catch (err) {
        if (!this.compactFailing) this.log.error({ dir: this.dir, err: (err as Error).message }, 'settlement compaction failed; retried at the next write');
        this.compactFailing = true;
      }
    }
  }

  /** Enters (or stays in) the failed state: logged once, retried every RETRY_MS until a write succeeds. */
  private fail(e: StorageError): StorageError {
    if (!this.failure) this.log.error({ dir: this.dir, kind: e.kind, err: e.message }, 'settlement journal write failed; settlements stay buffered and are retried');
    this.failure = e;
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.closed) this.flush().catch(() => undefined);
      }, RETRY_MS);
      this.retryTimer.unref();
    }
    return e;
  }

  compact(): Promise<void> {
    const run = this.tail.then(async () => {
      if (this.journalClosed) return;
      await this.writePending();
      await this.compactNow();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async compactNow(): Promise<void> {
    const ranges = this.settled.ranges();
    const b = Buffer.allocUnsafe(12 + 4 + ranges.length * 16 + 4 + this.counts.size * 12);
    b.writeUInt32BE(FORMAT, 0);
    b.writeDoubleBE(this.seq, 4);
    let p = 12;
    b.writeUInt32BE(ranges.length, p);
    p += 4;
    for (const [s, e] of ranges) {
      b.writeDoubleBE(s, p);
      b.writeDoubleBE(e, p + 8);
      p += 16;
    }
    b.writeUInt32BE(this.counts.size, p);
    p += 4;
    for (const [o, c] of this.counts) {
      b.writeDoubleBE(o, p);
      b.writeUInt32BE(Math.min(c, 0xffffffff), p + 8);
      p += 12;
    }
    await this.fs.writeFileAtomic(joinPath(this.dir, SNAPSHOT), b);
    await this.journal.truncate(0);
    this.goodEnd = 0;
    await this.journal.sync();
  }

  /**
   * Writes what is pending, then closes the journal once every write queued before has finished (closing
   * is itself queued on the write chain, so no write can start on a closed handle). Idempotent; later
   * changes stay in memory only.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      const run = this.tail.then(async () => {
        try {
          await this.writePending();
          await this.journal.sync().catch(() => undefined);
        } finally {
          this.journalClosed = true;
          await Promise.all([this.journal.close(), this.mark.close()]);
        }
      });
      this.tail = run.catch(() => undefined);
      this.closing = run;
    }
    return this.closing;
  }

  /** Closes (after the writes in flight, dropping what is pending) and removes the queue's state. */
  async destroy(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      const run = this.tail.then(async () => {
        this.journalClosed = true;
        await Promise.all([this.journal.close().catch(() => undefined), this.mark.close().catch(() => undefined)]);
      });
      this.tail = run.catch(() => undefined);
      this.closing = run;
    }
    await this.closing.catch(() => undefined);
    await this.fs.rmdir(this.dir);
  }
}
