// ListOffsets (key 2), versions 1-3: earliest (-2), latest (-1) or the first offset at a timestamp.
import type { ListOffsetsRequest, ListOffsetsResponse } from '../codec/generated/index.js';
import { defaultListOffsetsResponse } from '../codec/generated/index.js';
import { KafkaError, kafkaErrorOf } from '../errors.js';
import { findTopic, type HandlerContext } from './context.js';

export const listOffsetsVersions = [1, 3] as const;

export async function handleListOffsets(ctx: HandlerContext, req: ListOffsetsRequest): Promise<ListOffsetsResponse> {
  const res = defaultListOffsetsResponse();
  for (const t of req.topics) {
    const stream = findTopic(ctx, t.name);
    const partitions = [];
    for (const p of t.partitions) {
      const out = { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [] as bigint[], timestamp: -1n, offset: -1n, leaderEpoch: 0 };
      if (!stream || p.partitionIndex < 0 || p.partitionIndex >= stream.partitionCount) out.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      else if (p.timestamp === -1n) out.offset = BigInt(stream.latestOffset(p.partitionIndex));
      else if (p.timestamp === -2n) out.offset = BigInt(stream.earliestOffset(p.partitionIndex));
      else {
        try {
          const o = await stream.offsetForTime(p.partitionIndex, Number(p.timestamp));
          if (o !== undefined) {
            out.offset = BigInt(o);
            out.timestamp = p.timestamp;
          }
        } catch (err) {
          out.errorCode = kafkaErrorOf(err);
        }
      }
      partitions.push(out);
    }
    res.topics.push({ name: t.name, partitions });
  }
  return res;
}
