// Fetch (key 1), versions 4-11: file bytes of whole batches, long polling (max_wait_ms, min_bytes),
// total and per-partition byte limits, high watermark and log start offset.
//
// Byte limits (KIP-74): the response's records stay within the request's max_bytes and each partition's
// within its partition_max_bytes, both capped by Limits.fetchResponseBytesMax / fetchPartitionBytesMax
// (a client cannot make the broker read a whole segment into memory). The one exception is the first
// batch of the first partition that has data: it is returned whole even if it alone is larger, so that
// a consumer always makes progress. Batches of later partitions that do not fit are left for the next fetch.
import type { FetchRequest, FetchResponse, FetchResponse_PartitionData } from '../codec/generated/index.js';
import { defaultFetchResponse } from '../codec/generated/index.js';
import { Limits } from '../../../lib/limits.js';
import { largeBuffers } from '../../../lib/buffer-pool.js';
import { KafkaError, kafkaErrorOf } from '../errors.js';
import { findTopic, type HandlerContext } from './context.js';
import type { Stream } from '../../../core/streams/stream.js';

export const fetchVersions = [4, 11] as const;
/** Longest long poll we honour. */
const MAX_WAIT_MS_MAX = 30_000;
/** librdkafka refuses a null record set (size -1): an empty partition answers with zero bytes. */
const NO_RECORDS = Buffer.alloc(0);
/** RecordBatch v2: bytes before a batch's length is known (baseOffset, batchLength). */
const BATCH_LENGTH_PREFIX_BYTES = 12;

interface Want {
  topic: string;
  stream: Stream | undefined;
  partition: number;
  offset: number;
  maxBytes: number;
  out: FetchResponse_PartitionData;
}

/** The longest prefix of whole batches of `data` within `budget` bytes. */
function wholeBatchesWithin(data: Buffer, budget: number): number {
  let p = 0;
  while (p + BATCH_LENGTH_PREFIX_BYTES <= data.length) {
    const len = data.readInt32BE(p + 8) + BATCH_LENGTH_PREFIX_BYTES;
    if (p + len > budget) break;
    p += len;
  }
  return p;
}

async function readAll(wants: Want[], maxBytes: number): Promise<number> {
  let total = 0;
  for (const w of wants) {
    const o = w.out;
    o.records = NO_RECORDS;
    try {
      // The stream may have been deleted (or closed for a restart) while this fetch waited.
      if (!w.stream || w.partition < 0 || w.partition >= w.stream.partitionCount) {
        o.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
        continue;
      }
      o.errorCode = 0;
      o.highWatermark = o.lastStableOffset = BigInt(w.stream.latestOffset(w.partition));
      o.logStartOffset = BigInt(w.stream.earliestOffset(w.partition));
      const budget = Math.min(w.maxBytes, maxBytes - total, Limits.fetchPartitionBytesMax);
      if (budget <= 0 && total > 0) continue;
      const r = await w.stream.read(w.partition, w.offset, Math.max(budget, 1));
      // The high watermark the read stopped at: every record returned is below it.
      o.highWatermark = o.lastStableOffset = BigInt(r.nextOffset);
      let data = r.data;
      // Only the first partition with data may exceed its budget (with its first batch alone).
      if (total > 0 && data.length > budget) {
        const fit = wholeBatchesWithin(data, budget);
        if (fit === 0) {
          largeBuffers.release(data);
          data = NO_RECORDS;
        } else data = data.subarray(0, fit);
      }
      o.records = data.length > 0 ? data : NO_RECORDS;
      total += data.length;
    } catch (err) {
      o.errorCode = kafkaErrorOf(err);
      o.records = NO_RECORDS;
    }
  }
  return total;
}

/** Waits for data; a stream closed before or during the wait just ends it. */
async function waitQuietly(stream: Stream, positions: Array<{ partition: number; offset: number }>, waitMs: number): Promise<void> {
  try {
    await stream.waitForData(positions, waitMs);
  } catch {
    // deleted meanwhile: the read after the wait reports it
  }
}

export async function handleFetch(ctx: HandlerContext, req: FetchRequest): Promise<FetchResponse> {
  const res = defaultFetchResponse();
  const wants: Want[] = [];
  for (const t of req.topics) {
    const stream = findTopic(ctx, t.topic);
    const partitions: FetchResponse_PartitionData[] = [];
    for (const p of t.partitions) {
      const out: FetchResponse_PartitionData = {
        partitionIndex: p.partition,
        errorCode: 0,
        highWatermark: -1n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        divergingEpoch: { epoch: -1, endOffset: -1n },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        snapshotId: { endOffset: -1n, epoch: -1 },
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: NO_RECORDS,
      };
      partitions.push(out);
      wants.push({ topic: t.topic, stream, partition: p.partition, offset: Number(p.fetchOffset), maxBytes: p.partitionMaxBytes, out });
    }
    res.responses.push({ topic: t.topic, topicId: t.topicId, partitions });
  }
  const maxBytes = Math.min(req.maxBytes > 0 ? req.maxBytes : Limits.fetchResponseBytesMax, Limits.fetchResponseBytesMax);
  let total = await readAll(wants, maxBytes);
  const wait = Math.min(req.maxWaitMs, MAX_WAIT_MS_MAX);
  if (total < Math.max(1, req.minBytes) && wait > 0 && wants.every((w) => w.out.errorCode === 0)) {
    const byStream = new Map<Stream, Array<{ partition: number; offset: number }>>();
    for (const w of wants) {
      if (!w.stream) continue;
      let l = byStream.get(w.stream);
      if (!l) byStream.set(w.stream, (l = []));
      l.push({ partition: w.partition, offset: w.offset });
    }
    if (byStream.size > 0) {
      // A stream deleted while waiting ends the wait (waitForData resolves on close) and is looked up
      // again by name: gone, its partitions answer UNKNOWN_TOPIC_OR_PARTITION; the connection stays.
      await Promise.race([...byStream].map(([s, ps]) => waitQuietly(s, ps, wait)));
      for (const w of wants) w.stream = findTopic(ctx, w.topic);
      total = await readAll(wants, maxBytes);
    }
  }
  return res;
}
