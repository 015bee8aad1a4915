// Stream: a named log of N >= 1 partitions (design.md §1): a Kafka topic, or an AMQP queue declared
// x-queue-type=stream (1 partition). Records are kept until retention removes whole segments; reading
// never removes anything. The stream takes its partition logs from a factory, so it never builds paths.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { Limits } from '../../lib/limits.js';
import type { PartitionLog, ReadResult } from '../../storage/log/types.js';
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_PREFIX_BYTES,
  batchBaseSequence,
  batchBaseOffset,
  batchLastOffsetDelta,
  batchRecordCount,
  batchProducerEpoch,
  batchProducerId,
  checkBatch,
  setLogAppendTime,
} from '../../storage/log/record-batch.js';
import type { Message } from '../message.js';
import { decodeMessage, encodeMessage } from '../message-codec.js';
import { murmur2, toPositive } from './murmur2.js';
import { ProducerState } from './producer-state.js';
import { BatchIngress } from './batch-ingress.js';

export interface StreamConfig {
  partitions: number;
  /** -1 = keep forever. */
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
}

export const defaultStreamConfig: StreamConfig = {
  partitions: 1,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  segmentBytes: Limits.segmentBytesDefault,
  messageTimestampType: 'CreateTime',
};

export type PartitionLogFactory = (partition: number, config: StreamConfig) => Promise<PartitionLog>;

export interface StreamAppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Set when the stream uses LogAppendTime. */
  logAppendTimeMs: number | undefined;
  /** An idempotent producer's retry of its last batch: nothing was appended. */
  duplicate?: boolean;
}

export function validateStreamConfig(c: StreamConfig): void {
  if (!Number.isInteger(c.partitions) || c.partitions < 1 || c.partitions > Limits.partitionsMax) {
    throw new BrokerError(ErrorCode.InvalidArgument, `partitions must be 1..${Limits.partitionsMax}, got ${c.partitions}`);
  }
  if (!Number.isInteger(c.retentionMs) || c.retentionMs < -1) throw new BrokerError(ErrorCode.InvalidArgument, `retention.ms must be >= -1`);
  if (!Number.isInteger(c.retentionBytes) || c.retentionBytes < -1) throw new BrokerError(ErrorCode.InvalidArgument, `retention.bytes must be >= -1`);
  if (!Number.isInteger(c.segmentBytes) || c.segmentBytes < 14 || c.segmentBytes > Limits.segmentBytesMax) {
    throw new BrokerError(ErrorCode.InvalidArgument, `segment.bytes must be 14..${Limits.segmentBytesMax}`);
  }
}

/**
 * A produced batch's offset range must match its record count (as Kafka checks): a batch may not claim
 * more offsets than it holds records, which would let a client run offsets up to 2^53 in a few batches.
 */
function checkOffsetRanges(batches: Buffer): void {
  for (let p = 0; p + BATCH_HEADER_BYTES <= batches.length; ) {
    const count = batchRecordCount(batches, p);
    if (count < 1 || batchLastOffsetDelta(batches, p) !== count - 1) {
      throw new BrokerError(ErrorCode.CorruptData, `record batch at byte ${p}: offset range of ${batchLastOffsetDelta(batches, p) + 1} does not match its ${count} records`);
    }
    const len = batches.readInt32BE(p + 8) + BATCH_LENGTH_PREFIX_BYTES;
    if (len < BATCH_HEADER_BYTES) return; // the log's own check reports it
    p += len;
  }
}

/** Producer state is rebuilt from at most this many records at each partition's tail, read in at most this many bytes. */
const PRODUCER_REBUILD_RECORDS = 10_000;
const PRODUCER_REBUILD_BYTES = 64 * 1024 * 1024;

export class Stream {
  private roundRobin = 0;
  private closed = false;
  private readonly producerStates: ProducerState[] = [];
  private readonly ingress: BatchIngress[] = [];
  /** Long polls in waitForData: each ends when the stream closes (deleted, or the broker stops). */
  private readonly waits = new Set<(v: boolean) => void>();

  private constructor(
    readonly vhost: string,
    readonly name: string,
    public config: StreamConfig,
    private readonly partitions: PartitionLog[],
    private readonly factory: PartitionLogFactory,
    private readonly clock: Clock,
  ) {}

  static async open(vhost: string, name: string, config: StreamConfig, factory: PartitionLogFactory, clock: Clock = systemClock): Promise<Stream> {
    validateStreamConfig(config);
    const logs: PartitionLog[] = [];
    try {
      for (let p = 0; p < config.partitions; p++) logs.push(await factory(p, config));
    } catch (err) {
      await Promise.allSettled(logs.map((l) => l.close()));
      throw err;
    }
    const stream = new Stream(vhost, name, config, logs, factory, clock);
    for (let p = 0; p < logs.length; p++) await stream.rebuildProducerState(p);
    return stream;
  }

  /**
   * Idempotent producers across a restart: the producer state of a partition (last batches per producer)
   * is rebuilt from the batch headers at the log's tail, the last PRODUCER_REBUILD_RECORDS records read in
   * at most PRODUCER_REBUILD_BYTES. A retried batch after a restart is then still recognised as a duplicate.
   */
  private async rebuildProducerState(partition: number): Promise<void> {
    const log = this.partitions[partition]!;
    let offset = Math.max(log.logStartOffset, log.nextOffset - PRODUCER_REBUILD_RECORDS);
    let budget = PRODUCER_REBUILD_BYTES;
    const ps = (this.producerStates[partition] ??= new ProducerState());
    while (offset < log.nextOffset && budget > 0) {
      const { data } = await log.read(offset, Math.min(budget, 4 * 1024 * 1024));
      if (data.length === 0) break;
      budget -= data.length;
      let pos = 0;
      while (pos + BATCH_HEADER_BYTES <= data.length) {
        const len = data.readInt32BE(pos + 8) + BATCH_LENGTH_PREFIX_BYTES;
        if (pos + len > data.length) break;
        const base = batchBaseOffset(data, pos);
        const last = base + batchLastOffsetDelta(data, pos);
        const pid = batchProducerId(data, pos);
        if (pid >= 0n && last >= offset) ps.record(pid, batchProducerEpoch(data, pos), batchBaseSequence(data, pos), last - base + 1, base, last);
        offset = Math.max(offset, last + 1);
        pos += len;
      }
      if (pos === 0) break;
    }
  }

  get partitionCount(): number {
    return this.partitions.length;
  }

  partition(p: number): PartitionLog {
    const log = this.partitions[p];
    if (!log || this.closed) throw new BrokerError(ErrorCode.NotFound, `no partition ${p} of stream '${this.name}' in vhost '${this.vhost}'`);
    return log;
  }

  /** Kafka's default partitioner: murmur2 of the key for keyed records, round robin otherwise. */
  partitionFor(key: Buffer | null): number {
    if (key === null) return this.roundRobin++ % this.partitions.length;
    return toPositive(murmur2(key)) % this.partitions.length;
  }

  /**
   * Appends raw RecordBatch v2 bytes (a Kafka produce), applying LogAppendTime when configured. Batches
   * whose records carry reserved header names are refused (InvalidRecord), compressed ones after being
   * decompressed off the event loop (batch-ingress.ts); a partition's batches are appended in call order.
   */
  async appendBatches(partition: number, batches: Buffer, opts: { durable?: boolean } = {}): Promise<StreamAppendResult> {
    const log = this.partition(partition);
    const ingress = (this.ingress[partition] ??= new BatchIngress());
    return ingress.admit(batches, () => this.appendChecked(partition, log, batches, opts));
  }

  private async appendChecked(partition: number, log: PartitionLog, batches: Buffer, opts: { durable?: boolean }): Promise<StreamAppendResult> {
    let logAppendTimeMs: number | undefined;
    if (this.config.messageTimestampType === 'LogAppendTime') {
      logAppendTimeMs = this.clock.nowMs();
      // Each batch's CRC is checked as sent before the new timestamp gets a new CRC: a corrupt batch must
      // not be made to look whole.
      for (let p = 0; p < batches.length; ) {
        const c = checkBatch(batches, p, batches.length);
        if (!c.ok) throw new BrokerError(ErrorCode.CorruptData, `invalid record batch at byte ${p}: ${c.reason}`, { reason: c.reason, position: p });
        setLogAppendTime(batches, p, logAppendTimeMs);
        p += c.sizeBytes;
      }
    }
    checkOffsetRanges(batches);
    // Idempotent producers: the first batch's producer fields decide (a produce carries one batch per partition).
    const ps = (this.producerStates[partition] ??= new ProducerState());
    const producerId = batches.length >= BATCH_HEADER_BYTES ? batchProducerId(batches) : -1n;
    const epoch = producerId >= 0n ? batchProducerEpoch(batches) : -1;
    const sequence = producerId >= 0n ? batchBaseSequence(batches) : -1;
    if (producerId < 0n) {
      const r = await log.append(batches, opts);
      return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, logAppendTimeMs };
    }
    const seen = ps.check(producerId, epoch, sequence, batchLastOffsetDelta(batches, 0) + 1);
    if (seen.kind === 'duplicate') return { baseOffset: seen.baseOffset, lastOffset: seen.lastOffset, logAppendTimeMs, duplicate: true };
    if (seen.kind === 'duplicate-pending') {
      const r = await seen.pending;
      return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, logAppendTimeMs, duplicate: true };
    }
    // The sequence is taken before the write starts, so a pipelined next batch is checked against it. A
    // batch the log would refuse on its own is refused here first, so that the next one (already on its
    // way) cannot be appended after a gap; what can still fail is the log itself, and the next with it.
    for (let p = 0; p < batches.length; ) {
      const c = checkBatch(batches, p, batches.length);
      if (!c.ok) throw new BrokerError(ErrorCode.CorruptData, `invalid record batch at byte ${p}: ${c.reason}`);
      p += c.sizeBytes;
    }
    const appended = log.append(batches, opts);
    const settle = ps.begin(producerId, epoch, sequence, batchLastOffsetDelta(batches, 0) + 1, appended);
    let r;
    try {
      r = await appended;
    } catch (err) {
      settle(undefined);
      throw err;
    }
    settle(r);
    return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, logAppendTimeMs };
  }

  /** Appends messages from other protocols; `partition` undefined picks one per message key. */
  async appendMessages(messages: readonly Message[], partition?: number, opts: { durable?: boolean } = {}): Promise<StreamAppendResult[]> {
    const now = this.clock.nowMs();
    const groups = new Map<number, Message[]>();
    for (const m of messages) {
      const p = partition ?? this.partitionFor(m.key);
      let g = groups.get(p);
      if (!g) groups.set(p, (g = []));
      g.push(this.config.messageTimestampType === 'LogAppendTime' || !m.timestamp ? { ...m, timestamp: now } : m);
    }
    const out: StreamAppendResult[] = [];
    for (const [p, ms] of groups) {
      const r = await this.partition(p).appendRecords(ms.map(encodeMessage), opts);
      out.push({ baseOffset: r.baseOffset, lastOffset: r.lastOffset, logAppendTimeMs: undefined });
    }
    return out;
  }

  // Consumers of a stream see only what the fsync policy has made durable (docs/architecture.md,
  // "Visibility"): reads stop at the partition's high watermark, and latestOffset is that watermark.

  /** Raw batches from `offset` (file bytes, as a Kafka fetch returns them), up to the high watermark. */
  read(partition: number, offset: number, maxBytes: number): Promise<ReadResult> {
    return this.partition(partition).read(offset, maxBytes, 'durable');
  }

  /** Decoded messages with their offsets, for protocols that deliver one by one (up to the high watermark). */
  async readMessages(partition: number, offset: number, max: number): Promise<Array<{ offset: number; message: Message }>> {
    const records = await this.partition(partition).readRecords(offset, max, undefined, 'durable');
    return records.map((r) => ({ offset: r.offset, message: decodeMessage(r) }));
  }

  earliestOffset(partition: number): number {
    return this.partition(partition).logStartOffset;
  }

  /** The high watermark: the offset after the last record consumers may see. */
  latestOffset(partition: number): number {
    return this.partition(partition).highWatermark;
  }

  /** First visible offset whose record timestamp is >= timestampMs, or undefined. */
  async offsetForTime(partition: number, timestampMs: number): Promise<number | undefined> {
    const log = this.partition(partition);
    const o = await log.offsetForTimestamp(timestampMs);
    return o !== undefined && o < log.highWatermark ? o : undefined;
  }

  /** Grows the partition count (Kafka CreatePartitions); never shrinks. */
  async addPartitions(newCount: number): Promise<void> {
    if (newCount <= this.partitions.length) {
      throw new BrokerError(ErrorCode.InvalidArgument, `stream '${this.name}' has ${this.partitions.length} partitions; the new count ${newCount} must be larger`);
    }
    const config = { ...this.config, partitions: newCount };
    validateStreamConfig(config);
    for (let p = this.partitions.length; p < newCount; p++) this.partitions.push(await this.factory(p, config));
    this.config = config;
  }

  async enforceRetention(): Promise<number> {
    let n = 0;
    for (const log of this.partitions) n += await log.enforceRetention();
    return n;
  }

  /**
   * Resolves once the high watermark of any of the partitions passed moves past its offset (records
   * there became visible), or after maxWaitMs. One timer per wait, one listener per partition.
   */
  waitForData(positions: ReadonlyArray<{ partition: number; offset: number }>, maxWaitMs: number): Promise<boolean> {
    if (positions.some(({ partition, offset }) => this.partition(partition).highWatermark > offset)) return Promise.resolve(true);
    if (maxWaitMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const unsubs: Array<() => void> = [];
      const done = (v: boolean) => {
        clearTimeout(timer);
        for (const u of unsubs) u();
        this.waits.delete(done);
        resolve(v);
      };
      this.waits.add(done);
      const timer = setTimeout(() => done(false), maxWaitMs);
      for (const { partition, offset } of positions) {
        unsubs.push(this.partition(partition).onHighWatermark((hw) => hw > offset && done(true)));
      }
    });
  }

  private endWaits(): void {
    for (const done of [...this.waits]) done(false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.endWaits();
    await Promise.allSettled(this.partitions.map((l) => l.close()));
  }

  async destroy(): Promise<void> {
    this.closed = true;
    this.endWaits();
    for (const l of this.partitions) await l.destroy();
  }
}
