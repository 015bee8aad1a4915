// Public contract of a partition log (design.md §2, §10). The core reaches logs only through this
// interface so that a PostgreSQL-backed log can replace the segmented file log later.
import type { Clock } from '../../lib/clock.js';
import type { FileSystem } from '../fs/file-system.js';
import type { Record, RecordInput } from './record-batch.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

/**
 * Which end of the log a read stops at. 'durable': the high watermark, records the fsync policy has made
 * durable (what consumers of a stream may see: under 'always' after the fdatasync covering them, under
 * 'interval' after the interval fsync covering them, under 'never' and for an ephemeral log once written).
 * 'written': everything written (the log's owner reading back its own appends, as a queue does).
 */
export type Visibility = 'durable' | 'written';

export interface PartitionLogOptions {
  fs: FileSystem;
  /** Directory of this partition's segment files; created if missing. */
  dir: string;
  clock?: Clock;
  /**
   * Roll the active segment once it holds this many bytes: 1..Limits.segmentBytesMax (2^31 - 1, the index
   * stores 32-bit positions); open() refuses more.
   */
  segmentBytesMax?: number;
  /** Roll the active segment once its first record is this old (ms); -1 never. */
  segmentAgeMsMax?: number;
  /** Bytes between sparse offset/time index entries. */
  indexIntervalBytes?: number;
  /** Delete whole segments older than this (ms, by max timestamp); -1 keeps forever. */
  retentionMs?: number;
  /** Delete oldest whole segments while the log exceeds this size; -1 no bound. */
  retentionBytes?: number;
  fsync?: FsyncPolicy;
  /**
   * The log's contents are not wanted after a restart (its owner removes it then, as the broker does with
   * a non-durable queue's log): nothing is ever fsynced, not even when a segment rolls, and durable
   * appends do not wait. Without it, fsync=never still keeps a crash's survivors a prefix of the log.
   */
  ephemeral?: boolean;
  /** For fsync=interval: the longest time between two fsyncs. */
  fsyncIntervalMs?: number;
  /** Largest single append (bytes). */
  appendBytesMax?: number;
  /** Offset of the first record of a new, empty log (default 0). */
  initialOffset?: number;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Bytes appended. */
  sizeBytes: number;
}

export interface AppendOptions {
  /**
   * false for transient data (AMQP non-persistent on non-durable queue, MQTT QoS 0): resolve once written,
   * never wait for fsync whatever the policy. Default true.
   */
  durable?: boolean;
}

export interface ReadResult {
  /**
   * Whole batches, as stored, beginning with the batch that contains the requested offset. May be empty.
   * It may be a view of a `largeBuffers` slab (lib/buffer-pool.ts): whoever consumes it last and keeps no
   * view of it (a socket write that completed) may release it; anyone else simply drops it.
   */
  data: Buffer;
  /** The end the read stopped at, at the time of the read (nextOffset or highWatermark, per visibility). */
  nextOffset: number;
  logStartOffset: number;
}

export interface PartitionLog {
  readonly dir: string;
  /** First offset still stored. */
  readonly logStartOffset: number;
  /** Offset the next appended record gets (the written end, Kafka's log end offset). */
  readonly nextOffset: number;
  /**
   * The durable end (Kafka's high watermark): offsets below it are made durable as the fsync policy
   * promises and are what 'durable' reads return. <= nextOffset.
   */
  readonly highWatermark: number;
  /** Bytes stored over all segments. */
  readonly sizeBytes: number;
  readonly segmentCount: number;

  /**
   * Appends one or more concatenated RecordBatch v2 buffers. Each is checked (length, magic, CRC);
   * base offsets are assigned and rewritten in place. Resolves when written and, for durable appends,
   * when the fsync policy is satisfied. Rejects with BrokerError(CorruptData) on a bad batch and with
   * StorageError on disk faults; after a disk fault no later append is accepted until reopen.
   */
  append(batches: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  /** Encodes the records as one batch and appends it. */
  appendRecords(records: readonly RecordInput[], opts?: AppendOptions): Promise<AppendResult>;

  /**
   * Reads whole batches starting with the one holding `offset`, up to about `maxBytes` (always at least one
   * whole batch if any exists at or after offset), stopping at the end `visibility` names (default
   * 'written'). An offset below logStartOffset or above nextOffset (or not a safe integer) rejects with
   * BrokerError(OffsetOutOfRange); an offset at or past the chosen end gives empty data, and
   * ReadResult.nextOffset is that end. A read in flight keeps its segment's files open: retention and
   * close wait for it, so a read never fails because a segment went away under it.
   */
  read(offset: number, maxBytes: number, visibility?: Visibility): Promise<ReadResult>;
  /** Decoded records with offset >= `offset`, at most maxRecords, from at most about maxBytes of batches. */
  readRecords(offset: number, maxRecords: number, maxBytes?: number, visibility?: Visibility): Promise<Record[]>;

  /** First offset whose record timestamp is >= timestampMs, or undefined if none. */
  offsetForTimestamp(timestampMs: number): Promise<number | undefined>;

  /** Applies retentionMs / retentionBytes; deletes whole segments only (never the active one). Returns segments removed. */
  enforceRetention(): Promise<number>;
  /**
   * Deletes whole segments whose records are all below `offset` (queues free settled prefixes this way;
   * Kafka DeleteRecords too). logStartOffset becomes the base of the first remaining segment, or
   * `offset` when the log is empty after it.
   */
  deleteBefore(offset: number): Promise<number>;

  /** Calls `listener` each time highWatermark advances, with its new value; returns an unsubscribe function. */
  onHighWatermark(listener: (highWatermark: number) => void): () => void;

  /** Writes and fsyncs everything. */
  flush(): Promise<void>;
  /** Flushes and closes files; later calls reject with StorageError('CLOSED'). */
  close(): Promise<void>;
  /** Closes and deletes the partition's directory. */
  destroy(): Promise<void>;
}
