// OffsetStore: committed consumer-group offsets, kept in memory and persisted as records in an internal
// log (`__consumer_offsets` per vhost), replayed on open. One record per commit of a partition: key
// `group \0 stream \0 partition`, value offset (f64) | commit time (f64) | metadata length (i32) | metadata;
// a null value removes one offset, key `group \0` with a null value removes a whole group.
//
// Compaction keeps start-up time independent of commit history: once more records were appended since the
// last snapshot than max(offsetsCompactionMinRecords, live offsets), the store appends a snapshot (one
// record per live offset, the same format) and deletes the segments wholly before it. Replay is
// last-write-wins, so a crash at any point of a compaction leaves a log that replays to the same state.
// Commits whose appends are still in flight when the snapshot is taken are folded into it, since their
// records land before the snapshot and may be deleted with the old segments.
import { childLogger } from '../../lib/logger.js';
import type { Clock } from '../../lib/clock.js';
import type { PartitionLog } from '../../storage/log/types.js';
import type { RecordInput } from '../../storage/log/record-batch.js';
import type { CommittedOffset } from './group-types.js';

export interface StoredOffset extends CommittedOffset {
  stream: string;
  partition: number;
}

export interface OffsetInput {
  stream: string;
  partition: number;
  offset: number;
  metadata?: string | null;
}

const SEP = '\u0000';
/** Records per snapshot batch (each batch is one append). */
const SNAPSHOT_BATCH = 5000;

const partitionKey = (stream: string, partition: number) => `${stream}${SEP}${partition}`;

function encodeValue(offset: number, timestampMs: number, metadata: string | null): Buffer {
  const metaBytes = metadata === null ? 0 : Buffer.byteLength(metadata);
  const value = Buffer.allocUnsafe(20 + metaBytes);
  value.writeDoubleBE(offset, 0);
  value.writeDoubleBE(timestampMs, 8);
  value.writeInt32BE(metadata === null ? -1 : metaBytes, 16);
  if (metadata !== null) value.write(metadata, 20);
  return value;
}

export class OffsetStore {
  private readonly log = childLogger('offsets');
  /** group → `stream \0 partition` → offset */
  private readonly byGroup = new Map<string, Map<string, StoredOffset>>();
  /** Record sets whose appends were called and not yet applied, in call order. */
  private readonly inflight = new Set<readonly RecordInput[]>();
  private live = 0;
  /** Records appended to the log since the last snapshot (or replayed at open). */
  private sinceSnapshot = 0;
  private compaction: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly offsetsLog: PartitionLog,
    private readonly clock: Clock,
    private readonly compactMinRecords: number,
  ) {}

  static async open(offsetsLog: PartitionLog, clock: Clock, compactMinRecords: number): Promise<OffsetStore> {
    const s = new OffsetStore(offsetsLog, clock, compactMinRecords);
    let o = offsetsLog.logStartOffset;
    while (o < offsetsLog.nextOffset) {
      const recs = await offsetsLog.readRecords(o, 100_000, 4 * 1024 * 1024);
      if (recs.length === 0) break;
      for (const r of recs) {
        s.apply(r.key, r.value);
        o = r.offset + 1;
        s.sinceSnapshot++;
      }
    }
    s.maybeCompact();
    return s;
  }

  /** Records in the log (for tests and reports). */
  get logRecords(): number {
    return this.offsetsLog.nextOffset - this.offsetsLog.logStartOffset;
  }

  get liveOffsets(): number {
    return this.live;
  }

  groupIds(): IterableIterator<string> {
    return this.byGroup.keys();
  }

  has(groupId: string): boolean {
    return (this.byGroup.get(groupId)?.size ?? 0) > 0;
  }

  list(groupId: string): StoredOffset[] {
    return [...(this.byGroup.get(groupId)?.values() ?? [])].map((x) => ({ ...x }));
  }

  get(groupId: string, stream: string, partition: number): StoredOffset | undefined {
    const c = this.byGroup.get(groupId)?.get(partitionKey(stream, partition));
    return c ? { ...c } : undefined;
  }

  private apply(key: Buffer | null, value: Buffer | null): void {
    if (!key) return;
    const parts = key.toString('utf8').split(SEP);
    const group = parts[0]!;
    const stream = parts[1];
    let m = this.byGroup.get(group);
    if (stream === undefined || stream === '') {
      // group tombstone
      if (value === null && m) {
        this.live -= m.size;
        this.byGroup.delete(group);
      }
      return;
    }
    const partition = Number(parts[2]);
    const pk = partitionKey(stream, partition);
    if (value === null) {
      if (m?.delete(pk)) this.live--;
      if (m?.size === 0) this.byGroup.delete(group);
      return;
    }
    if (value.length < 20) return;
    if (!m) this.byGroup.set(group, (m = new Map()));
    const metaLen = value.readInt32BE(16);
    if (!m.has(pk)) this.live++;
    m.set(pk, {
      stream,
      partition,
      offset: value.readDoubleBE(0),
      commitTimestampMs: value.readDoubleBE(8),
      metadata: metaLen < 0 ? null : value.toString('utf8', 20, 20 + metaLen),
    });
  }

  /** Appends records, then applies them; the record set counts as in flight meanwhile. */
  private async write(records: readonly RecordInput[]): Promise<void> {
    if (records.length === 0) return;
    this.inflight.add(records);
    try {
      await this.offsetsLog.appendRecords(records);
      for (const r of records) this.apply(r.key, r.value);
    } finally {
      this.inflight.delete(records);
    }
    this.sinceSnapshot += records.length;
    this.maybeCompact();
  }

  commit(groupId: string, offsets: readonly OffsetInput[]): Promise<void> {
    const now = this.clock.nowMs();
    return this.write(
      offsets.map((o) => ({
        key: Buffer.from(`${groupId}${SEP}${partitionKey(o.stream, o.partition)}`),
        value: encodeValue(o.offset, now, o.metadata ?? null),
        timestamp: now,
      })),
    );
  }

  /** Removes some offsets of a group (expiry). */
  remove(groupId: string, partitions: ReadonlyArray<{ stream: string; partition: number }>): Promise<void> {
    const now = this.clock.nowMs();
    return this.write(partitions.map((p) => ({ key: Buffer.from(`${groupId}${SEP}${partitionKey(p.stream, p.partition)}`), value: null, timestamp: now })));
  }

  /** Removes every group's offsets of a stream (the stream was deleted; a new one of its name starts afresh). */
  removeStream(stream: string): Promise<void> {
    const now = this.clock.nowMs();
    const records: RecordInput[] = [];
    for (const [group, m] of this.byGroup) {
      for (const o of m.values()) if (o.stream === stream) records.push({ key: Buffer.from(`${group}${SEP}${partitionKey(stream, o.partition)}`), value: null, timestamp: now });
    }
    return this.write(records);
  }

  /** Removes every offset of a group. */
  deleteGroup(groupId: string): Promise<void> {
    return this.write([{ key: Buffer.from(`${groupId}${SEP}`), value: null, timestamp: this.clock.nowMs() }]);
  }

  // ---- compaction ----------------------------------------------------------------------------------------

  private maybeCompact(): void {
    if (this.compaction || this.closed) return;
    if (this.sinceSnapshot <= Math.max(this.compactMinRecords, this.live)) return;
    this.compaction = this.compact()
      .catch((err: unknown) => this.log.warn({ dir: this.offsetsLog.dir, err: (err as Error).message }, 'offsets compaction failed; retried after more commits'))
      .finally(() => (this.compaction = undefined));
  }

  /** Resolves when no compaction is running (tests). */
  async idle(): Promise<void> {
    while (this.compaction) await this.compaction;
  }

  /** Appends a snapshot of every live offset and deletes the segments wholly before it. */
  async compact(): Promise<void> {
    // The state as the log will have it once the appends in flight land: applied state, then those.
    const snap = new Map<string, RecordInput>();
    for (const [group, m] of this.byGroup) {
      for (const [pk, o] of m) {
        snap.set(`${group}${SEP}${pk}`, { key: null, value: encodeValue(o.offset, o.commitTimestampMs, o.metadata), timestamp: o.commitTimestampMs });
      }
    }
    for (const records of this.inflight) {
      for (const r of records) {
        const k = r.key!.toString('utf8');
        if (k.endsWith(SEP)) {
          for (const sk of [...snap.keys()]) if (sk.startsWith(k)) snap.delete(sk);
        } else if (r.value === null) snap.delete(k);
        else snap.set(k, { key: null, value: r.value, timestamp: r.timestamp });
      }
    }
    const records: RecordInput[] = [...snap].map(([k, r]) => ({ key: Buffer.from(k), value: r.value, timestamp: r.timestamp }));
    // An empty snapshot is one record without a key (ignored by replay) that marks where it starts.
    if (records.length === 0) records.push({ key: null, value: null, timestamp: this.clock.nowMs() });
    this.sinceSnapshot = 0;
    const appends: Array<Promise<{ baseOffset: number }>> = [];
    for (let i = 0; i < records.length; i += SNAPSHOT_BATCH) appends.push(this.offsetsLog.appendRecords(records.slice(i, i + SNAPSHOT_BATCH)));
    const results = await Promise.all(appends);
    // The snapshot must be on disk before what it replaces goes, whatever the fsync policy.
    await this.offsetsLog.flush();
    const removed = await this.offsetsLog.deleteBefore(results[0]!.baseOffset);
    this.log.debug({ dir: this.offsetsLog.dir, live: records.length, segmentsRemoved: removed }, 'offsets compacted');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    await this.offsetsLog.close();
  }
}
