// One entry per API we answer: its version range (what ApiVersions advertises) and its handler.
// Keys not listed here are never advertised; a request for one closes the connection, as Kafka does.
import * as g from './codec/generated/index.js';
import { apiTable, type ApiCodec } from './codec/api-table.js';
import type { HandlerContext } from './handlers/context.js';
import { handleMetadata } from './handlers/metadata.js';
import { handleProduce } from './handlers/produce.js';
import { handleFetch } from './handlers/fetch.js';
import { handleListOffsets } from './handlers/list-offsets.js';
import * as groups from './handlers/groups.js';
import * as admin from './handlers/topics-admin.js';
import { handleInitProducerId } from './handlers/init-producer-id.js';
import { handleDescribeConfigs } from './handlers/describe-configs.js';

export type Handler = (ctx: HandlerContext, req: never, version: number) => unknown;

export interface ApiEntry {
  codec: ApiCodec;
  minVersion: number;
  maxVersion: number;
  handle: Handler;
}

export const API_VERSIONS_MAX = 3;

const handlers: Partial<Record<string, Handler>> = {
  Produce: handleProduce as Handler,
  Fetch: handleFetch as Handler,
  ListOffsets: handleListOffsets as Handler,
  Metadata: handleMetadata as Handler,
  OffsetCommit: groups.handleOffsetCommit as Handler,
  OffsetFetch: groups.handleOffsetFetch as Handler,
  FindCoordinator: groups.handleFindCoordinator as Handler,
  JoinGroup: groups.handleJoinGroup as Handler,
  Heartbeat: groups.handleHeartbeat as Handler,
  LeaveGroup: groups.handleLeaveGroup as Handler,
  SyncGroup: groups.handleSyncGroup as Handler,
  DescribeGroups: groups.handleDescribeGroups as Handler,
  ListGroups: groups.handleListGroups as Handler,
  CreateTopics: admin.handleCreateTopics as Handler,
  DeleteTopics: admin.handleDeleteTopics as Handler,
  DeleteGroups: groups.handleDeleteGroups as Handler,
  InitProducerId: handleInitProducerId as Handler,
  DescribeConfigs: handleDescribeConfigs as Handler,
  CreatePartitions: admin.handleCreatePartitions as Handler,
  // Answered by the connection itself (they change its state); listed so that they are advertised.
  SaslHandshake: (() => undefined) as Handler,
  SaslAuthenticate: (() => undefined) as Handler,
};

/** ApiVersions (18) answers from this very table. */
function handleApiVersions(): g.ApiVersionsResponse {
  const res = g.defaultApiVersionsResponse();
  res.apiKeys = [...dispatch.values()].map((e) => ({ apiKey: e.codec.apiKey, minVersion: e.minVersion, maxVersion: e.maxVersion })).sort((a, b) => a.apiKey - b.apiKey);
  return res;
}

export const dispatch = new Map<number, ApiEntry>();
for (const codec of apiTable.values()) {
  const handle: Handler | undefined = codec.name === 'ApiVersions' ? (handleApiVersions as Handler) : handlers[codec.name];
  if (handle) dispatch.set(codec.apiKey, { codec, minVersion: codec.minVersion, maxVersion: codec.maxVersion, handle });
}
