// Topic administration: CreateTopics (19, v0-4), DeleteTopics (20, v0-3), CreatePartitions (37, v0-1).
import * as g from '../codec/generated/index.js';
import type { StreamConfig } from '../../../core/streams/stream.js';
import { Limits } from '../../../lib/limits.js';
import { KafkaError, kafkaErrorOf } from '../errors.js';
import { findTopic, validTopicName, type HandlerContext } from './context.js';

/** Topic configs that map onto stream configs; others, and bad values, are refused with INVALID_CONFIG. */
function streamConfigOf(configs: ReadonlyArray<{ name: string; value: string | null }>): Partial<StreamConfig> | string {
  const c: Partial<StreamConfig> = {};
  for (const { name, value } of configs) {
    if (value === null) continue;
    const n = Number(value);
    switch (name) {
      case 'retention.ms':
        c.retentionMs = n;
        break;
      case 'retention.bytes':
        c.retentionBytes = n;
        break;
      case 'segment.bytes':
        // Kafka's range: at least 14 (one batch header), at most 2^31 - 1 (segment indexes are 32-bit).
        if (!Number.isInteger(n) || n < 14 || n > Limits.segmentBytesMax) return `segment.bytes must be 14..${Limits.segmentBytesMax}, got ${value}`;
        c.segmentBytes = n;
        break;
      case 'message.timestamp.type':
        if (value !== 'CreateTime' && value !== 'LogAppendTime') return `message.timestamp.type must be CreateTime or LogAppendTime`;
        c.messageTimestampType = value;
        break;
      case 'cleanup.policy':
        if (value !== 'delete') return `cleanup.policy=${value} is not supported yet`;
        break;
      default:
        return `unknown topic config ${name}`;
    }
  }
  return c;
}

export async function handleCreateTopics(ctx: HandlerContext, req: g.CreateTopicsRequest): Promise<g.CreateTopicsResponse> {
  const res = g.defaultCreateTopicsResponse();
  for (const t of req.topics) {
    const out = { name: t.name, topicId: Buffer.alloc(16), errorCode: 0, errorMessage: null as string | null, topicConfigErrorCode: 0, numPartitions: -1, replicationFactor: -1, configs: null };
    const partitions = t.numPartitions === -1 ? ctx.settings.defaultPartitions : t.numPartitions;
    const cfg = streamConfigOf(t.configs);
    if (!validTopicName(t.name)) {
      out.errorCode = KafkaError.INVALID_TOPIC_EXCEPTION;
      out.errorMessage = `invalid topic name '${t.name}'`;
    } else if (findTopic(ctx, t.name)) {
      out.errorCode = KafkaError.TOPIC_ALREADY_EXISTS;
      out.errorMessage = `Topic '${t.name}' already exists.`;
    } else if (partitions < 1) {
      out.errorCode = KafkaError.INVALID_PARTITIONS;
      out.errorMessage = 'Number of partitions must be larger than 0.';
    } else if (typeof cfg === 'string') {
      out.errorCode = KafkaError.INVALID_CONFIG;
      out.errorMessage = cfg;
    } else if (!req.validateOnly) {
      try {
        await ctx.broker.createStream(ctx.settings.vhost, t.name, { ...cfg, partitions });
        out.numPartitions = partitions;
        out.replicationFactor = 1;
      } catch (err) {
        out.errorCode = kafkaErrorOf(err);
        out.errorMessage = (err as Error).message;
      }
    }
    res.topics.push(out);
  }
  return res;
}

export async function handleDeleteTopics(ctx: HandlerContext, req: g.DeleteTopicsRequest, version: number): Promise<g.DeleteTopicsResponse> {
  const res = g.defaultDeleteTopicsResponse();
  const names = version >= 6 ? req.topics.map((t) => t.name ?? '') : req.topicNames;
  for (const name of names) {
    let errorCode = 0;
    if (!findTopic(ctx, name)) errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
    else {
      try {
        await ctx.broker.deleteStream(ctx.settings.vhost, name);
      } catch (err) {
        errorCode = kafkaErrorOf(err);
      }
    }
    res.responses.push({ name, topicId: Buffer.alloc(16), errorCode, errorMessage: null });
  }
  return res;
}

export async function handleCreatePartitions(ctx: HandlerContext, req: g.CreatePartitionsRequest): Promise<g.CreatePartitionsResponse> {
  const res = g.defaultCreatePartitionsResponse();
  for (const t of req.topics) {
    let errorCode = 0;
    let errorMessage: string | null = null;
    const s = findTopic(ctx, t.name);
    if (!s) errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
    else if (t.count <= s.partitionCount) {
      errorCode = KafkaError.INVALID_PARTITIONS;
      errorMessage = `Topic currently has ${s.partitionCount} partitions, which is higher than the requested ${t.count}.`;
    } else if (!req.validateOnly) {
      try {
        await ctx.broker.addStreamPartitions(ctx.settings.vhost, t.name, t.count);
      } catch (err) {
        errorCode = kafkaErrorOf(err);
        errorMessage = (err as Error).message;
      }
    }
    res.results.push({ name: t.name, errorCode, errorMessage });
  }
  return res;
}
