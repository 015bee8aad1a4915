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
import type { FsyncPolicy } from '../log/types.js';
import { RangeSet } from './range-set.js';
import type { SettlementLogApi } from './types.js';

const SNAPSHOT = 'settlement.snapshot';
const JOURNAL = 'settlement.journal';
const FORMAT = 1;
const OP_SETTLE = 1;
const OP_DELIVER = 2;
const FRAME_BYTES_MAX = 64 * 1024 * 1024;

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

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    private journal: FileHandle,
    private readonly opts: SettlementLogOptions,
  ) {}

  static async open(fs: FileSystem, dir: string, opts: SettlementLogOptions): Promise<SettlementLog> {
    await fs.mkdir(dir);
    const journal = await fs.open(joinPath(dir, JOURNAL), 'rw');
    await fs.syncDir(dir);
    const s = new SettlementLog(fs, dir, journal, opts);
    try {
      await s.load();
    } catch (err) {
      await journal.close();
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
      const bad = (reason: string) => ({ reason });
      let problem: { reason: string } | undefined;
      let frameEnd = 0;
      if (size - pos < 8) problem = bad('short header');
      else {
        const len = buf.readUInt32BE(pos);
        frameEnd = pos + 8 + len;
        if (len < 8 || len > FRAME_BYTES_MAX || frameEnd > size) problem = bad('short or bad length');
        else if (crc32c(buf.subarray(pos + 8, frameEnd)) !== buf.readUInt32BE(pos + 4)) problem = bad('bad checksum');
      }
      if (problem) {
        if (problem.reason === 'bad checksum' && frameEnd + 8 <= size) {
          const len2 = buf.readUInt32BE(frameEnd);
          const end2 = frameEnd + 8 + len2;
          if (end2 <= size && len2 >= 8 && crc32c(buf.subarray(frameEnd + 8, end2)) === buf.readUInt32BE(frameEnd + 4)) {
            throw new StorageError('CORRUPT', `settlement journal ${path} is corrupt at offset ${pos} with valid entries after it`, path, pos);
          }
        }
        this.log.warn({ file: path, position: pos, reason: problem.reason }, 'torn settlement journal tail truncated');
        await this.journal.truncate(pos);
        break;
      }
      this.replayFrame(buf.subarray(pos + 8, frameEnd));
      pos = frameEnd;
    }
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

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush().catch((err: Error) => this.log.error({ dir: this.dir, err: err.message }, 'settlement write failed'));
    });
  }

  flush(): Promise<void> {
    const run = this.tail.then(() => this.writePending());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writePending(): Promise<void> {
    const ns = this.pendingStarts.length;
    const nd = this.pendingDelivered.length;
    if (ns === 0 && nd === 0) return;
    const payload = Buffer.allocUnsafe(8 + ns * 17 + nd * 9);
    this.seq++;
    payload.writeDoubleBE(this.seq, 0);
    let p = 8;
    // Deliveries first: a delivery and a settle of the same offset in one frame end settled.
    for (const o of this.pendingDelivered) {
      payload[p] = OP_DELIVER;
      payload.writeDoubleBE(o, p + 1);
      p += 9;
    }
    for (let i = 0; i < ns; i++) {
      payload[p] = OP_SETTLE;
      payload.writeDoubleBE(this.pendingStarts[i]!, p + 1);
      payload.writeDoubleBE(this.pendingEnds[i]!, p + 9);
      p += 17;
    }
    this.pendingStarts = [];
    this.pendingEnds = [];
    this.pendingDelivered = [];
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(crc32c(payload), 4);
    const before = this.journal.size;
    try {
      await this.journal.append([header, payload]);
      if (this.opts.fsync === 'always') await this.journal.sync();
    } catch (err) {
      await this.journal.truncate(before).catch(() => undefined);
      throw toStorageError(err, joinPath(this.dir, JOURNAL));
    }
    if (this.journal.size > (this.opts.compactBytes ?? 1024 * 1024)) await this.compactNow();
  }

  compact(): Promise<void> {
    const run = this.tail.then(async () => {
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
    await this.journal.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.tail;
    await this.journal.sync().catch(() => undefined);
    await this.journal.close();
  }

  async destroy(): Promise<void> {
    this.closed = true;
    await this.tail;
    await this.journal.close().catch(() => undefined);
    await this.fs.rmdir(this.dir);
  }
}
