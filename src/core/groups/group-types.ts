// Types shared by the group coordinator and its offset store: outcomes, states, requests and results,
// and the coordinator's named limits with their defaults.
import type { Clock } from '../../lib/clock.js';
import type { PartitionLog } from '../../storage/log/types.js';

export const GroupError = {
  None: 'none',
  UnknownMemberId: 'unknown_member_id',
  IllegalGeneration: 'illegal_generation',
  RebalanceInProgress: 'rebalance_in_progress',
  MemberIdRequired: 'member_id_required',
  FencedInstanceId: 'fenced_instance_id',
  InconsistentGroupProtocol: 'inconsistent_group_protocol',
  InvalidSessionTimeout: 'invalid_session_timeout',
  NonEmptyGroup: 'non_empty_group',
  GroupIdNotFound: 'group_id_not_found',
  InvalidGroupId: 'invalid_group_id',
  InvalidCommitOffsetSize: 'invalid_commit_offset_size',
  OffsetMetadataTooLarge: 'offset_metadata_too_large',
  CoordinatorNotAvailable: 'coordinator_not_available',
} as const;
export type GroupError = (typeof GroupError)[keyof typeof GroupError];

/** Kafka's classic group states. A group is Dead once deleted (it is then no longer known). */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId?: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  /** JoinGroup v4+: a new member first gets MemberIdRequired with its id, then joins with it. */
  requireKnownMemberId: boolean;
}

export interface JoinResult {
  error: GroupError;
  generationId: number;
  protocolName: string | null;
  protocolType: string | null;
  leader: string;
  memberId: string;
  /** Only for the leader: every member with its metadata for the chosen protocol. */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  error: GroupError;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  generationId: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }>;
}

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
  commitTimestampMs: number;
}

/** A member leaving (LeaveGroup v3+ names members by id, or by group instance id with an empty id). */
export interface LeavingMember {
  memberId: string;
  groupInstanceId?: string | null;
}

export interface GroupCoordinatorOptions {
  /** Internal log holding committed offsets. */
  offsetsLog: PartitionLog;
  clock?: Clock;
  /** group.initial.rebalance.delay.ms (Kafka default 3000). */
  initialRebalanceDelayMs?: number;
  /** group.min.session.timeout.ms (Kafka default 6000). */
  sessionTimeoutMinMs?: number;
  /** group.max.session.timeout.ms (Kafka default 1,800,000). */
  sessionTimeoutMaxMs?: number;
  /**
   * offsets.retention.minutes in ms (Kafka default 7 days): once a group is empty, its committed offsets
   * are removed this long after it became empty (a group without members that never had any, a "simple"
   * group, loses each offset this long after its commit). A group that is empty and has no offsets left is
   * removed.
   */
  offsetsRetentionMs?: number;
  /** offsets.retention.check.interval.ms (Kafka default 600,000): how often expiry and removal run. */
  offsetsRetentionCheckIntervalMs?: number;
  /**
   * Compaction of the offsets log: once more records were appended since the last snapshot than this or
   * the number of live offsets (whichever is larger), a snapshot of the live offsets is appended and the
   * segments before it are deleted. Default 2,000.
   */
  offsetsCompactionMinRecords?: number;
  /** offset.metadata.max.bytes (Kafka default 4096): longest metadata string a commit may store per partition. */
  offsetMetadataMaxBytes?: number;
}

export const GROUP_DEFAULTS = {
  initialRebalanceDelayMs: 3000,
  sessionTimeoutMinMs: 6000,
  sessionTimeoutMaxMs: 1_800_000,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetsCompactionMinRecords: 2000,
  offsetMetadataMaxBytes: 4096,
  /** Kafka's fixed timeout of a new member's first JoinGroup (it cannot heartbeat yet). */
  newMemberJoinTimeoutMs: 300_000,
} as const;
