// The APIs Junction speaks and the version ranges it advertises in ApiVersions
// (chosen against kafkajs, librdkafka and kafka-python; docs/interop.md), with their generated codecs.
import type { KafkaReader } from './reader.js';
import type { KafkaWriter } from './writer.js';
import * as g from './generated/index.js';

export interface ApiCodec {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  flexibleFrom: number;
  decodeRequest(r: KafkaReader, v: number): unknown;
  encodeRequest(w: KafkaWriter, v: number, o: never): void;
  decodeResponse(r: KafkaReader, v: number): unknown;
  encodeResponse(w: KafkaWriter, v: number, o: never): void;
  defaultRequest(): unknown;
  defaultResponse(): unknown;
}

function api(name: string, apiKey: number, minVersion: number, maxVersion: number, flexibleFrom: number, m: Record<string, unknown>): ApiCodec {
  const f = (k: string) => m[k] as never;
  return {
    apiKey,
    name,
    minVersion,
    maxVersion,
    flexibleFrom,
    decodeRequest: f(`decode${name}Request`),
    encodeRequest: f(`encode${name}Request`),
    decodeResponse: f(`decode${name}Response`),
    encodeResponse: f(`encode${name}Response`),
    defaultRequest: f(`default${name}Request`),
    defaultResponse: f(`default${name}Response`),
  };
}

const G = g as unknown as Record<string, unknown>;
const flex = (name: string) => G[`${name}RequestFlexibleFrom`] as number;

/**
 * [name, min, max] as advertised. Produce is advertised from v0 although only v3+ (RecordBatch v2) is
 * accepted, as Kafka 4 does (KAFKA-18659): librdkafka reads gzip/snappy/lz4 support from Produce v0..v2
 * being in the range and silently stops compressing otherwise. v0-v2 requests are answered with
 * UNSUPPORTED_VERSION per partition (handlers/produce.ts). v8 adds per-record errors to the response.
 */
const ADVERTISED: Array<[string, number, number]> = [
  ['Produce', 0, 8],
  ['Fetch', 4, 11],
  ['ListOffsets', 1, 3],
  ['Metadata', 0, 6],
  ['OffsetCommit', 2, 7],
  ['OffsetFetch', 1, 7],
  ['FindCoordinator', 0, 2],
  ['JoinGroup', 0, 5],
  ['Heartbeat', 0, 3],
  ['LeaveGroup', 0, 3],
  ['SyncGroup', 0, 3],
  ['DescribeGroups', 0, 4],
  ['ListGroups', 0, 4],
  ['SaslHandshake', 0, 1],
  ['ApiVersions', 0, 3],
  ['CreateTopics', 0, 4],
  ['DeleteTopics', 0, 3],
  ['InitProducerId', 0, 4],
  ['DescribeConfigs', 0, 2],
  ['SaslAuthenticate', 0, 1],
  ['DeleteGroups', 0, 1],
  ['CreatePartitions', 0, 1],
];

export const apiTable: ReadonlyMap<number, ApiCodec> = new Map(
  ADVERTISED.map(([name, min, max]) => {
    const key = G[`${name}RequestApiKey`] as number;
    return [key, api(name, key, min, max, flex(name), G)];
  }),
);
