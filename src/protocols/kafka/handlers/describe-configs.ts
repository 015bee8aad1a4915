// DescribeConfigs (key 32), versions 0-2: topic configs (the stream's) and broker configs.
import type { DescribeConfigsRequest, DescribeConfigsResponse, DescribeConfigsResponse_DescribeConfigsResourceResult } from '../codec/generated/index.js';
import { defaultDescribeConfigsResponse } from '../codec/generated/index.js';
import { defaultStreamConfig } from '../../../core/streams/stream.js';
import { KafkaError } from '../errors.js';
import { findTopic, NODE_ID, type HandlerContext } from './context.js';

const TOPIC = 2;
const BROKER = 4;
/** ConfigSource values of DescribeConfigs. */
const DYNAMIC_TOPIC_CONFIG = 1;
const DEFAULT_CONFIG = 5;

function entry(name: string, value: string, isDefault: boolean, readOnly: boolean): DescribeConfigsResponse_DescribeConfigsResourceResult {
  return { name, value, readOnly, isDefault, configSource: isDefault ? DEFAULT_CONFIG : DYNAMIC_TOPIC_CONFIG, isSensitive: false, synonyms: [], configType: 0, documentation: null };
}

export function handleDescribeConfigs(ctx: HandlerContext, req: DescribeConfigsRequest): DescribeConfigsResponse {
  const res = defaultDescribeConfigsResponse();
  for (const r of req.resources) {
    let configs: DescribeConfigsResponse_DescribeConfigsResourceResult[] = [];
    let errorCode = 0;
    let errorMessage: string | null = null;
    if (r.resourceType === TOPIC) {
      const s = findTopic(ctx, r.resourceName);
      if (!s) {
        errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
        errorMessage = `Topic '${r.resourceName}' does not exist`;
      } else {
        const c = s.config;
        const d = defaultStreamConfig;
        configs = [
          entry('retention.ms', String(c.retentionMs), c.retentionMs === d.retentionMs, false),
          entry('retention.bytes', String(c.retentionBytes), c.retentionBytes === d.retentionBytes, false),
          entry('segment.bytes', String(c.segmentBytes), c.segmentBytes === d.segmentBytes, false),
          entry('message.timestamp.type', c.messageTimestampType, c.messageTimestampType === d.messageTimestampType, false),
          entry('cleanup.policy', 'delete', true, true),
        ];
      }
    } else if (r.resourceType === BROKER) {
      if (r.resourceName !== '' && r.resourceName !== String(NODE_ID)) {
        errorCode = KafkaError.INVALID_REQUEST;
        errorMessage = `unknown broker '${r.resourceName}'`;
      } else {
        configs = [
          entry('auto.create.topics.enable', String(ctx.settings.autoCreateTopics), true, true),
          entry('num.partitions', String(ctx.settings.defaultPartitions), true, true),
          entry('socket.request.max.bytes', String(ctx.settings.requestBytesMax), true, true),
          entry('log.retention.ms', String(defaultStreamConfig.retentionMs), true, true),
          entry('log.segment.bytes', String(defaultStreamConfig.segmentBytes), true, true),
        ];
      }
    } else {
      errorCode = KafkaError.INVALID_REQUEST;
      errorMessage = `resource type ${r.resourceType} is not supported`;
    }
    if (r.configurationKeys) configs = configs.filter((c) => r.configurationKeys!.includes(c.name));
    res.results.push({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName, configs });
  }
  return res;
}
