// LocalMetaStore: the embedded MetaStore (design.md §2). State = snapshot + journal in one directory:
//   meta.snapshot  JSON {format, seq, records}, replaced atomically (write tmp, fsync, rename, fsync dir)
//   meta.journal   frames [u32 length][u32 crc32c(payload)][payload = JSON {seq, ops}], one per apply(),
//                  fsync'd before apply() resolves.
// Every journal entry carries a sequence number; the snapshot records the last one it includes, so a crash
// between writing a snapshot and emptying the journal never applies an entry twice.
import { crc32c } from '@node-rs/crc32';
import { StorageError, toStorageError } from '../../lib/errors.js';
import { Limits } from '../../lib/limits.js';
import { childLogger } from '../../lib/logger.js';
import { joinPath, type FileHandle, type FileSystem } from '../fs/file-system.js';
import { checkFrame, findValidFrameAfter, FRAME_HEADER_BYTES, type FrameLimits } from '../journal-frames.js';
import type { MetaKind, MetaOp, MetaRecord, MetaStore } from './meta-store.js';

const SNAPSHOT = 'meta.snapshot';
const JOURNAL = 'meta.journal';
const FORMAT = 1;
/** Largest single journal entry (a whole apply()). */
const ENTRY_BYTES_MAX = 64 * 1024 * 1024;

const mapKey = (kind: MetaKind, key: string) => `${kind}\u0000${key}`;

interface Frame {
  seq: number;
  ops: MetaOp[];
}

export class LocalMetaStore implements MetaStore {
  private readonly log = childLogger('storage');
  private readonly records = new Map<string, MetaRecord>();
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  private tailRepaired = false;
  /** Journal size after the last entry written whole; a failed write is cut back to it before the next. */
  private goodEnd = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private journal: FileHandle,
    private seq: number,
    private readonly journalBytesMax: number,
  ) {}

  static async open(fs: FileSystem, dir: string, opts: { journalBytesMax?: number } = {}): Promise<LocalMetaStore> {
    await fs.mkdir(dir);
    const snapPath = joinPath(dir, SNAPSHOT);
    let seq = 0;
    let snapRecords: MetaRecord[] = [];
    if (await fs.exists(snapPath)) {
      try {
        const snap = JSON.parse((await fs.readFile(snapPath)).toString('utf8')) as { format: number; seq: number; records: MetaRecord[] };
        if (snap.format !== FORMAT) throw new Error(`format ${String(snap.format)}`);
        seq = snap.seq;
        snapRecords = snap.records;
      } catch (err) {
        throw new StorageError('CORRUPT', `metadata snapshot ${snapPath} is unreadable: ${(err as Error).message}`, snapPath, 0);
      }
    }
    const journalPath = joinPath(dir, JOURNAL);
    const journal = await fs.open(journalPath, 'rw');
    await fs.syncDir(dir);
    const store = new LocalMetaStore(fs, dir, journal, seq, opts.journalBytesMax ?? Limits.metaJournalBytesMax);
    for (const r of snapRecords) store.records.set(mapKey(r.kind, r.key), r);
    try {
      await store.replay(journalPath);
    } catch (err) {
      await journal.close();
      throw err;
    }
    return store;
  }

  private async replay(path: string): Promise<void> {
    const size = this.journal.size;
    const buf = Buffer.allocUnsafe(size);
    const n = await this.journal.read(buf, 0, size, 0);
    let pos = 0;
    while (pos < n) {
      const frame = readFrame(buf, pos, n);
      if (frame.ok) {
        if (frame.value.seq > this.seq) {
          this.applyInMemory(frame.value.ops);
          this.seq = frame.value.seq;
        }
        pos = frame.end;
        continue;
      }
      // A bad frame: a torn tail when nothing valid follows it anywhere, corruption otherwise.
      const next = findValidFrameAfter(buf, pos, n, FRAME_LIMITS);
      if (next >= 0) {
        throw new StorageError(
          'CORRUPT',
          `metadata journal ${path} is corrupt at offset ${pos} (${frame.reason}) and a valid entry follows at offset ${next}: ` +
            'refusing to start (a torn write only ever damages the end; restore the data dir from a backup)',
          path,
          pos,
        );
      }
      this.log.warn({ file: path, position: pos, reason: frame.reason, droppedBytes: n - pos }, 'torn metadata journal tail truncated');
      await this.journal.truncate(pos);
      await this.journal.sync();
      this.tailRepaired = true;
      break;
    }
    this.goodEnd = this.journal.size;
  }

  /**
   * True when open() truncated a torn journal tail: definitions changed just before a crash may be missing,
   * so data that no definition names must not be deleted on the journal's word.
   */
  get repairedTail(): boolean {
    return this.tailRepaired;
  }

  all(): MetaRecord[] {
    return [...this.records.values()];
  }

  get(kind: MetaKind, key: string): MetaRecord | undefined {
    return this.records.get(mapKey(kind, key));
  }

  list(kind: MetaKind): MetaRecord[] {
    const out: MetaRecord[] = [];
    for (const r of this.records.values()) if (r.kind === kind) out.push(r);
    return out;
  }

  put(record: MetaRecord): Promise<void> {
    return this.apply([{ op: 'put', record }]);
  }

  delete(kind: MetaKind, key: string): Promise<void> {
    return this.apply([{ op: 'delete', kind, key }]);
  }

  apply(ops: readonly MetaOp[]): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('CLOSED', 'metadata store is closed'));
    const run = this.tail.then(() => this.write(ops));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(ops: readonly MetaOp[]): Promise<void> {
    const seq = this.seq + 1;
    const payload = Buffer.from(JSON.stringify({ seq, ops }), 'utf8');
    if (payload.length > ENTRY_BYTES_MAX) throw new StorageError('OTHER', `metadata entry of ${payload.length} bytes exceeds ${ENTRY_BYTES_MAX}`);
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(crc32c(payload), 4);
    try {
      // A failed earlier write whose partial entry could not be removed then is removed now: an entry must
      // never follow a damaged one (that reads as corruption at the next start).
      if (this.journal.size !== this.goodEnd) await this.journal.truncate(this.goodEnd);
      await this.journal.append([header, payload]);
      await this.journal.sync();
    } catch (err) {
      await this.journal.truncate(this.goodEnd).catch(() => undefined);
      throw toStorageError(err, joinPath(this.dir, JOURNAL));
    }
    this.goodEnd = this.journal.size;
    this.seq = seq;
    this.applyInMemory(ops);
    if (this.journal.size > this.journalBytesMax) {
      // The entry is durable and applied: a failed snapshot is retried at the next write, not reported here.
      await this.snapshot().catch((err: Error) => this.log.error({ dir: this.dir, err: err.message }, 'metadata snapshot failed; retried at the next change'));
    }
  }

  private applyInMemory(ops: readonly MetaOp[]): void {
    for (const o of ops) {
      if (o.op === 'put') this.records.set(mapKey(o.record.kind, o.record.key), o.record);
      else this.records.delete(mapKey(o.kind, o.key));
    }
  }

  /** Writes the whole state as a snapshot and empties the journal. */
  private async snapshot(): Promise<void> {
    const data = Buffer.from(JSON.stringify({ format: FORMAT, seq: this.seq, records: this.all() }), 'utf8');
    await this.fs.writeFileAtomic(joinPath(this.dir, SNAPSHOT), data);
    await this.journal.truncate(0);
    this.goodEnd = 0;
    await this.journal.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.journal.close();
  }
}

type FrameRead = { ok: true; value: Frame; end: number } | { ok: false; reason: string };

function parseFrame(payload: Buffer): Frame | undefined {
  try {
    const value = JSON.parse(payload.toString('utf8')) as Frame;
    return typeof value?.seq === 'number' && Array.isArray(value.ops) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Shortest payload: `{"seq":1,"ops":[]}`. */
const FRAME_LIMITS: FrameLimits = { payloadBytesMin: 18, payloadBytesMax: ENTRY_BYTES_MAX, validPayload: (p) => parseFrame(p) !== undefined };

function readFrame(buf: Buffer, pos: number, end: number): FrameRead {
  const c = checkFrame(buf, pos, end, FRAME_LIMITS);
  return c.ok ? { ok: true, value: parseFrame(c.payload)!, end: c.end } : c;
}
