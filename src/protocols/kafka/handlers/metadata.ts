// Metadata (key 3), versions 0-6: brokers, topics and partitions; auto-creates requested topics.
import type { MetadataRequest, MetadataResponse } from '../codec/generated/index.js';
import { defaultMetadataResponse } from '../codec/generated/index.js';
import { KafkaError, kafkaErrorOf } from '../errors.js';
import { CLUSTER_ID, findTopic, NODE_ID, validTopicName, type HandlerContext } from './context.js';

export const metadataVersions = [0, 6] as const;

export async function handleMetadata(ctx: HandlerContext, req: MetadataRequest, version: number): Promise<MetadataResponse> {
  const res = defaultMetadataResponse();
  res.brokers = [{ nodeId: NODE_ID, host: ctx.settings.advertisedHost, port: ctx.settings.advertisedPort, rack: null }];
  res.clusterId = CLUSTER_ID;
  res.controllerId = NODE_ID;
  const all = req.topics === null || (version === 0 && req.topics.length === 0);
  const names = all ? ctx.broker.listStreams(ctx.settings.vhost).map((s) => s.name).filter((n) => !n.startsWith('__')) : req.topics!.map((t) => t.name ?? '');
  const autoCreate = ctx.settings.autoCreateTopics && (version < 4 || req.allowAutoTopicCreation);
  for (const name of names) {
    let stream = findTopic(ctx, name);
    let errorCode: number = KafkaError.NONE;
    if (!stream) {
      if (!validTopicName(name)) errorCode = KafkaError.INVALID_TOPIC_EXCEPTION;
      else if (autoCreate) {
        try {
          stream = await ctx.broker.createStream(ctx.settings.vhost, name, { partitions: ctx.settings.defaultPartitions });
        } catch (err) {
          stream = findTopic(ctx, name);
          if (!stream) errorCode = kafkaErrorOf(err);
        }
      } else errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
    }
    res.topics.push({
      errorCode,
      name,
      topicId: Buffer.alloc(16),
      isInternal: false,
      partitions: stream
        ? Array.from({ length: stream.partitionCount }, (_, p) => ({ errorCode: 0, partitionIndex: p, leaderId: NODE_ID, leaderEpoch: 0, replicaNodes: [NODE_ID], isrNodes: [NODE_ID], offlineReplicas: [] }))
        : [],
      topicAuthorizedOperations: -2147483648,
    });
  }
  return res;
}
