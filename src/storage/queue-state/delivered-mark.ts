// DeliveredMark: "every offset below M may have been delivered" for one queue, persisted so that after a
// crash every unsettled message that may have reached a consumer comes back flagged redelivered.
//   delivered.mark  two 16-byte slots, written alternately: [f64 mark][u32 seq][u32 crc32c of the 12 bytes]
// A write goes to the slot not holding the latest value, so a torn write leaves the previous value intact.
// The queue reserves ahead (one write per chunk of offsets) and never delivers at or past a mark before
// its write has finished (and been fsync'd under fsync=always). No file: 0 (nothing is known to have been
// delivered). A file with no valid slot: Infinity (anything may have been delivered: over-flagging is safe).
import { crc32c } from '@node-rs/crc32';
import { toStorageError } from '../../lib/errors.js';
import { joinPath, type FileHandle, type FileSystem } from '../fs/file-system.js';
import type { FsyncPolicy } from '../log/types.js';

const FILE = 'delivered.mark';
const SLOT = 16;

export class DeliveredMark {
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    private readonly fsync: FsyncPolicy,
    /** The value as found at open. */
    readonly recovered: number,
    private seq: number,
  ) {}

  static async open(fs: FileSystem, dir: string, fsync: FsyncPolicy): Promise<DeliveredMark> {
    const path = joinPath(dir, FILE);
    const file = await fs.open(path, 'rw');
    try {
      const size = file.size;
      let mark = 0;
      let seq = 0;
      if (size > 0) {
        const buf = Buffer.alloc(2 * SLOT);
        await file.read(buf, 0, Math.min(size, 2 * SLOT), 0);
        let found = false;
        for (let s = 0; s < 2; s++) {
          const at = s * SLOT;
          if (crc32c(buf.subarray(at, at + 12)) !== buf.readUInt32BE(at + 12) || buf.readUInt32BE(at + 8) === 0) continue;
          const slotSeq = buf.readUInt32BE(at + 8);
          if (!found || slotSeq > seq) {
            found = true;
            seq = slotSeq;
            mark = buf.readDoubleBE(at);
          }
        }
        if (!found) mark = Infinity;
      }
      return new DeliveredMark(file, path, fsync, mark, seq);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw toStorageError(err, path);
    }
  }

  /** Persists `mark`; resolves once it is written (and fsync'd under fsync=always). Writes run in order. */
  write(mark: number): Promise<void> {
    const run = this.tail.then(() => this.writeNow(mark));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writeNow(mark: number): Promise<void> {
    if (this.closed) return;
    const seq = (this.seq + 1) >>> 0 || 1;
    const b = Buffer.allocUnsafe(SLOT);
    b.writeDoubleBE(mark, 0);
    b.writeUInt32BE(seq, 8);
    b.writeUInt32BE(crc32c(b.subarray(0, 12)), 12);
    try {
      await this.file.writeAt(b, (seq % 2) * SLOT);
      if (this.fsync === 'always') await this.file.sync();
    } catch (err) {
      throw toStorageError(err, this.path);
    }
    this.seq = seq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.tail;
    this.closed = true;
    await this.file.close();
  }
}
