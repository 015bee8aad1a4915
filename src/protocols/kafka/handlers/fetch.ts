// Fetch (key 1), versions 4-11: file bytes of whole batches, long polling (max_wait_ms, min_bytes),
// total and per-partition byte limits, high watermark and log start offset.
import type { FetchRequest, FetchResponse, FetchResponse_PartitionData } from '../codec/generated/index.js';
import { defaultFetchResponse } from '../codec/generated/index.js';
import { KafkaError, kafkaErrorOf } from '../errors.js';
import { findTopic, type HandlerContext } from './context.js';
import type { Stream } from '../../../core/streams/stream.js';

export const fetchVersions = [4, 11] as const;
/** Longest long poll we honour. */
const MAX_WAIT_MS_MAX = 30_000;
/** librdkafka refuses a null record set (size -1): an empty partition answers with zero bytes. */
const NO_RECORDS = Buffer.alloc(0);

interface Want {
  stream: Stream | undefined;
  partition: number;
  offset: number;
  maxBytes: number;
  out: FetchResponse_PartitionData;
}

async function readAll(wants: Want[], maxBytes: number): Promise<number> {
  let total = 0;
  for (const w of wants) {
    const o = w.out;
    o.records = NO_RECORDS;
    if (!w.stream || w.partition < 0 || w.partition >= w.stream.partitionCount) {
      o.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      continue;
    }
    o.errorCode = 0;
    o.highWatermark = o.lastStableOffset = BigInt(w.stream.latestOffset(w.partition));
    o.logStartOffset = BigInt(w.stream.earliestOffset(w.partition));
    const budget = Math.min(w.maxBytes, maxBytes - total);
    if (budget <= 0 && total > 0) continue;
    try {
      const r = await w.stream.read(w.partition, w.offset, Math.max(budget, 1));
      // The high watermark the read stopped at: every record returned is below it.
      o.highWatermark = o.lastStableOffset = BigInt(r.nextOffset);
      o.records = r.data.length > 0 ? r.data : NO_RECORDS;
      total += r.data.length;
    } catch (err) {
      o.errorCode = kafkaErrorOf(err);
    }
  }
  return total;
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
      wants.push({ stream, partition: p.partition, offset: Number(p.fetchOffset), maxBytes: p.partitionMaxBytes, out });
    }
    res.responses.push({ topic: t.topic, topicId: t.topicId, partitions });
  }
  const maxBytes = req.maxBytes > 0 ? req.maxBytes : 50 * 1024 * 1024;
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
      await Promise.race([...byStream].map(([s, ps]) => s.waitForData(ps, wait)));
      total = await readAll(wants, maxBytes);
    }
  }
  return res;
}
