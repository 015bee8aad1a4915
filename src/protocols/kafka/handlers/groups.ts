// The classic consumer-group APIs over the core's GroupCoordinator: FindCoordinator (10, v0-2),
// JoinGroup (11, v0-5), SyncGroup (14, v0-3), Heartbeat (12, v0-3), LeaveGroup (13, v0-3),
// OffsetCommit (8, v2-7), OffsetFetch (9, v1-7), DescribeGroups (15, v0-4), ListGroups (16, v0-4),
// DeleteGroups (42, v0-1).
import * as g from '../codec/generated/index.js';
import { kafkaGroupError, KafkaError } from '../errors.js';
import { NODE_ID, type HandlerContext } from './context.js';
import { GroupError } from '../../../core/groups/group-coordinator.js';

export function handleFindCoordinator(ctx: HandlerContext, req: g.FindCoordinatorRequest): g.FindCoordinatorResponse {
  const res = g.defaultFindCoordinatorResponse();
  res.nodeId = NODE_ID;
  res.host = ctx.settings.advertisedHost;
  res.port = ctx.settings.advertisedPort;
  if (req.keyType !== 0) {
    res.errorCode = KafkaError.COORDINATOR_NOT_AVAILABLE;
    res.errorMessage = 'transactions are not supported';
  }
  return res;
}

export async function handleJoinGroup(ctx: HandlerContext, req: g.JoinGroupRequest, version: number): Promise<g.JoinGroupResponse> {
  const r = await ctx.broker.groups(ctx.settings.vhost).joinGroup({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId,
    clientId: ctx.clientId,
    clientHost: ctx.clientHost,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: version >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
    requireKnownMemberId: version >= 4,
  });
  const res = g.defaultJoinGroupResponse();
  res.errorCode = kafkaGroupError(r.error);
  res.generationId = r.generationId;
  res.protocolType = r.protocolType;
  res.protocolName = r.protocolName ?? (version >= 7 ? null : '');
  res.leader = r.leader;
  res.memberId = r.memberId;
  res.members = r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata }));
  return res;
}

export async function handleSyncGroup(ctx: HandlerContext, req: g.SyncGroupRequest): Promise<g.SyncGroupResponse> {
  const r = await ctx.broker
    .groups(ctx.settings.vhost)
    .syncGroup(req.groupId, req.generationId, req.memberId, req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })), req.groupInstanceId ?? null);
  const res = g.defaultSyncGroupResponse();
  res.errorCode = kafkaGroupError(r.error);
  res.protocolType = r.protocolType;
  res.protocolName = r.protocolName;
  res.assignment = r.assignment;
  return res;
}

export function handleHeartbeat(ctx: HandlerContext, req: g.HeartbeatRequest): g.HeartbeatResponse {
  const res = g.defaultHeartbeatResponse();
  res.errorCode = kafkaGroupError(ctx.broker.groups(ctx.settings.vhost).heartbeat(req.groupId, req.generationId, req.memberId, req.groupInstanceId ?? null));
  return res;
}

export function handleLeaveGroup(ctx: HandlerContext, req: g.LeaveGroupRequest, version: number): g.LeaveGroupResponse {
  const res = g.defaultLeaveGroupResponse();
  const leaving = version >= 3 ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: req.memberId }];
  const errors = ctx.broker.groups(ctx.settings.vhost).leaveGroup(req.groupId, leaving);
  const groupLevel = errors.length > 0 && (errors[0] === GroupError.InvalidGroupId || errors[0] === GroupError.CoordinatorNotAvailable);
  if (version < 3 || groupLevel) res.errorCode = kafkaGroupError(errors[0] ?? GroupError.None);
  else res.members = req.members.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: kafkaGroupError(errors[i]!) }));
  return res;
}

/** Offsets are stored as doubles: a committed offset beyond +-(2^53 - 1) cannot be kept exactly. */
const storableOffset = (o: bigint): boolean => o <= BigInt(Number.MAX_SAFE_INTEGER) && o >= -BigInt(Number.MAX_SAFE_INTEGER);

export async function handleOffsetCommit(ctx: HandlerContext, req: g.OffsetCommitRequest): Promise<g.OffsetCommitResponse> {
  const coord = ctx.broker.groups(ctx.settings.vhost);
  // Partitions refused on their own (as Kafka does) while the others are committed; a group-level error is every partition's.
  const refused = (p: g.OffsetCommitRequest['topics'][number]['partitions'][number]): number =>
    !storableOffset(p.committedOffset) ? KafkaError.OFFSET_OUT_OF_RANGE : !coord.offsetMetadataFits(p.committedMetadata) ? KafkaError.OFFSET_METADATA_TOO_LARGE : KafkaError.NONE;
  const offsets = req.topics.flatMap((t) =>
    t.partitions.filter((p) => refused(p) === KafkaError.NONE).map((p) => ({ stream: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset), metadata: p.committedMetadata })),
  );
  const err = await coord.commitOffsets(req.groupId, req.generationIdOrMemberEpoch, req.memberId, offsets, req.groupInstanceId ?? null);
  const res = g.defaultOffsetCommitResponse();
  const code = kafkaGroupError(err);
  res.topics = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code || refused(p) })),
  }));
  return res;
}

export function handleOffsetFetch(ctx: HandlerContext, req: g.OffsetFetchRequest): g.OffsetFetchResponse {
  const coord = ctx.broker.groups(ctx.settings.vhost);
  const wanted = req.topics?.flatMap((t) => t.partitionIndexes.map((p) => ({ stream: t.name, partition: p })));
  const got = coord.fetchOffsets(req.groupId, wanted);
  const byTopic = new Map<string, g.OffsetFetchResponse_OffsetFetchResponsePartition[]>();
  for (const o of got) {
    let l = byTopic.get(o.stream);
    if (!l) byTopic.set(o.stream, (l = []));
    l.push({ partitionIndex: o.partition, committedOffset: Number.isSafeInteger(o.offset) ? BigInt(o.offset) : -1n, committedLeaderEpoch: -1, metadata: o.metadata ?? '', errorCode: 0 });
  }
  const res = g.defaultOffsetFetchResponse();
  res.topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
  return res;
}

export function handleDescribeGroups(ctx: HandlerContext, req: g.DescribeGroupsRequest): g.DescribeGroupsResponse {
  const res = g.defaultDescribeGroupsResponse();
  res.groups = req.groups.map((id) => {
    const d = ctx.broker.groups(ctx.settings.vhost).describeGroup(id);
    return {
      errorCode: 0,
      groupId: id,
      groupState: d.state,
      protocolType: d.protocolType,
      protocolData: d.protocolName,
      members: d.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost, memberMetadata: m.metadata, memberAssignment: m.assignment })),
      authorizedOperations: -2147483648,
    };
  });
  return res;
}

export function handleListGroups(ctx: HandlerContext, req: g.ListGroupsRequest): g.ListGroupsResponse {
  const res = g.defaultListGroupsResponse();
  const filter = req.statesFilter ?? [];
  res.groups = ctx.broker
    .groups(ctx.settings.vhost)
    .listGroups()
    .filter((x) => filter.length === 0 || filter.includes(x.state))
    .map((x) => ({ groupId: x.groupId, protocolType: x.protocolType, groupState: x.state, groupType: 'classic' }));
  return res;
}

export async function handleDeleteGroups(ctx: HandlerContext, req: g.DeleteGroupsRequest): Promise<g.DeleteGroupsResponse> {
  const errs = await ctx.broker.groups(ctx.settings.vhost).deleteGroups(req.groupsNames);
  const res = g.defaultDeleteGroupsResponse();
  res.results = req.groupsNames.map((groupId, i) => ({ groupId, errorCode: kafkaGroupError(errs[i]!) }));
  return res;
}
