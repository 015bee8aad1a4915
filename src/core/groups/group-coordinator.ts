// GroupCoordinator: Kafka's classic consumer-group protocol, protocol-neutral (design.md §1): members,
// generations, protocol selection, join / sync / heartbeat / leave, session expiry, rebalance timeouts,
// and committed offsets persisted in an internal log (replayed on open). Membership is not persisted (as
// in Kafka, members rejoin after a restart); committed offsets are. Outcomes are GroupError values that
// the Kafka layer maps to its error codes.
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../lib/clock.js';
import type { PartitionLog } from '../../storage/log/types.js';

export const GroupError = {
  None: 'none',
  UnknownMemberId: 'unknown_member_id',
  IllegalGeneration: 'illegal_generation',
  RebalanceInProgress: 'rebalance_in_progress',
  MemberIdRequired: 'member_id_required',
  InconsistentGroupProtocol: 'inconsistent_group_protocol',
  InvalidSessionTimeout: 'invalid_session_timeout',
  NonEmptyGroup: 'non_empty_group',
  GroupIdNotFound: 'group_id_not_found',
  InvalidGroupId: 'invalid_group_id',
  CoordinatorNotAvailable: 'coordinator_not_available',
} as const;
export type GroupError = (typeof GroupError)[keyof typeof GroupError];

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

export interface GroupCoordinatorOptions {
  /** Internal log holding committed offsets. */
  offsetsLog: PartitionLog;
  clock?: Clock;
  /** group.initial.rebalance.delay.ms (Kafka default 3000). */
  initialRebalanceDelayMs?: number;
  sessionTimeoutMinMs?: number;
  sessionTimeoutMaxMs?: number;
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer;
  joinWaiter: ((r: JoinResult) => void) | undefined;
  syncWaiter: ((r: SyncResult) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
}

class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType = '';
  protocolName = '';
  leader = '';
  readonly members = new Map<string, Member>();
  readonly pendingMemberIds = new Set<string>();
  joinTimer: NodeJS.Timeout | undefined;
  initialDelay = false;
  constructor(readonly groupId: string) {}
}

const EMPTY = Buffer.alloc(0);
const offsetKey = (group: string, stream: string, partition: number) => `${group}\u0000${stream}\u0000${partition}`;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** group → key(stream, partition) → committed offset */
  private readonly offsets = new Map<string, Map<string, CommittedOffset & { stream: string; partition: number }>>();
  private readonly clock: Clock;
  private readonly initialDelayMs: number;
  private readonly sessionMin: number;
  private readonly sessionMax: number;
  private closed = false;

  private constructor(private readonly opts: GroupCoordinatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.initialDelayMs = opts.initialRebalanceDelayMs ?? 3000;
    this.sessionMin = opts.sessionTimeoutMinMs ?? 6000;
    this.sessionMax = opts.sessionTimeoutMaxMs ?? 1_800_000;
  }

  /** Opens the coordinator and replays committed offsets from its log. */
  static async open(opts: GroupCoordinatorOptions): Promise<GroupCoordinator> {
    const c = new GroupCoordinator(opts);
    const log = opts.offsetsLog;
    let o = log.logStartOffset;
    while (o < log.nextOffset) {
      const recs = await log.readRecords(o, 100_000, 4 * 1024 * 1024);
      if (recs.length === 0) break;
      for (const r of recs) {
        c.applyOffsetRecord(r.key, r.value);
        o = r.offset + 1;
      }
    }
    return c;
  }

  private applyOffsetRecord(key: Buffer | null, value: Buffer | null): void {
    if (!key) return;
    const [group, stream, part] = key.toString('utf8').split('\u0000');
    if (group === undefined) return;
    if (stream === undefined || stream === '') {
      // group tombstone
      if (value === null) this.offsets.delete(group);
      return;
    }
    const partition = Number(part);
    let m = this.offsets.get(group);
    if (value === null) {
      m?.delete(offsetKey(group, stream, partition));
      return;
    }
    if (!m) this.offsets.set(group, (m = new Map()));
    const metaLen = value.readInt32BE(16);
    m.set(offsetKey(group, stream, partition), {
      stream,
      partition,
      offset: value.readDoubleBE(0),
      commitTimestampMs: value.readDoubleBE(8),
      metadata: metaLen < 0 ? null : value.toString('utf8', 20, 20 + metaLen),
    });
  }

  private group(groupId: string, create: boolean): Group | undefined {
    let g = this.groups.get(groupId);
    if (!g && create) this.groups.set(groupId, (g = new Group(groupId)));
    return g;
  }

  // ---- join ----------------------------------------------------------------------------------------------

  joinGroup(req: JoinRequest): Promise<JoinResult> {
    const fail = (error: GroupError, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve({ error, generationId: -1, protocolName: null, protocolType: null, leader: '', memberId, members: [] });
    if (this.closed) return fail(GroupError.CoordinatorNotAvailable);
    if (req.groupId === '') return fail(GroupError.InvalidGroupId);
    if (req.sessionTimeoutMs < this.sessionMin || req.sessionTimeoutMs > this.sessionMax) return fail(GroupError.InvalidSessionTimeout);
    const g = this.group(req.groupId, true)!;
    if (g.members.size > 0 && (req.protocolType !== g.protocolType || !this.sharesProtocol(g, req.protocols))) return fail(GroupError.InconsistentGroupProtocol);
    let memberId = req.memberId;
    if (memberId === '') {
      memberId = `${req.clientId}-${randomUUID()}`;
      if (req.requireKnownMemberId) {
        g.pendingMemberIds.add(memberId);
        return fail(GroupError.MemberIdRequired, memberId);
      }
    } else if (!g.members.has(memberId) && !g.pendingMemberIds.has(memberId)) {
      return fail(GroupError.UnknownMemberId);
    }
    g.pendingMemberIds.delete(memberId);
    let member = g.members.get(memberId);
    if (!member) {
      member = {
        memberId,
        groupInstanceId: req.groupInstanceId ?? null,
        clientId: req.clientId,
        clientHost: req.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols,
        assignment: EMPTY,
        joinWaiter: undefined,
        syncWaiter: undefined,
        sessionTimer: undefined,
      };
      g.members.set(memberId, member);
      if (g.members.size === 1) g.protocolType = req.protocolType;
    } else {
      member.protocols = req.protocols;
      member.sessionTimeoutMs = req.sessionTimeoutMs;
      member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    }
    const m = member;
    // A previous join of the same member still waiting is answered as superseded.
    m.joinWaiter?.({ error: GroupError.RebalanceInProgress, generationId: -1, protocolName: null, protocolType: null, leader: '', memberId, members: [] });
    const result = new Promise<JoinResult>((resolve) => (m.joinWaiter = resolve));
    this.armSession(g, m);
    if (g.state !== 'PreparingRebalance') this.prepareRebalance(g);
    this.tryCompleteJoin(g);
    return result;
  }

  private sharesProtocol(g: Group, protocols: GroupProtocol[]): boolean {
    const names = new Set(protocols.map((p) => p.name));
    return this.candidateProtocols(g).some((p) => names.has(p));
  }

  private candidateProtocols(g: Group): string[] {
    let common: string[] | undefined;
    for (const m of g.members.values()) {
      const names = m.protocols.map((p) => p.name);
      common = common === undefined ? names : common.filter((n) => names.includes(n));
    }
    return common ?? [];
  }

  private prepareRebalance(g: Group): void {
    if (g.state === 'CompletingRebalance') {
      for (const m of g.members.values()) this.answerSync(m, { error: GroupError.RebalanceInProgress, protocolType: null, protocolName: null, assignment: EMPTY });
    }
    const wasEmpty = g.state === 'Empty';
    g.state = 'PreparingRebalance';
    if (g.joinTimer) clearTimeout(g.joinTimer);
    let rebalanceMs = 0;
    for (const m of g.members.values()) rebalanceMs = Math.max(rebalanceMs, m.rebalanceTimeoutMs);
    g.initialDelay = wasEmpty && this.initialDelayMs > 0;
    const delay = g.initialDelay ? Math.min(this.initialDelayMs, rebalanceMs) : rebalanceMs;
    g.joinTimer = setTimeout(() => {
      g.joinTimer = undefined;
      g.initialDelay = false;
      this.completeJoin(g);
    }, delay);
  }

  private tryCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance' || g.initialDelay) return;
    for (const m of g.members.values()) if (!m.joinWaiter) return;
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.joinTimer = undefined;
    this.completeJoin(g);
  }

  private completeJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance') return;
    for (const m of [...g.members.values()]) if (!m.joinWaiter) this.removeMember(g, m);
    g.generationId++;
    if (g.members.size === 0) {
      g.state = 'Empty';
      g.protocolName = '';
      g.leader = '';
      return;
    }
    // Protocol: the candidate with the most votes, each member voting for its first supported candidate.
    const candidates = this.candidateProtocols(g);
    const votes = new Map<string, number>();
    for (const m of g.members.values()) {
      const pick = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(pick, (votes.get(pick) ?? 0) + 1);
    }
    g.protocolName = [...votes].sort((a, b) => b[1] - a[1])[0]![0];
    if (!g.members.has(g.leader)) g.leader = g.members.keys().next().value!;
    g.state = 'CompletingRebalance';
    const all = [...g.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.protocols.find((p) => p.name === g.protocolName)!.metadata }));
    for (const m of g.members.values()) {
      const w = m.joinWaiter!;
      m.joinWaiter = undefined;
      m.assignment = EMPTY;
      this.armSession(g, m);
      w({ error: GroupError.None, generationId: g.generationId, protocolName: g.protocolName, protocolType: g.protocolType, leader: g.leader, memberId: m.memberId, members: m.memberId === g.leader ? all : [] });
    }
  }

  // ---- sync / heartbeat / leave --------------------------------------------------------------------------

  syncGroup(groupId: string, generationId: number, memberId: string, assignments: Array<{ memberId: string; assignment: Buffer }>): Promise<SyncResult> {
    const fail = (error: GroupError) => Promise.resolve<SyncResult>({ error, protocolType: null, protocolName: null, assignment: EMPTY });
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return fail(GroupError.UnknownMemberId);
    if (generationId !== g.generationId) return fail(GroupError.IllegalGeneration);
    this.armSession(g, m);
    if (g.state === 'PreparingRebalance') return fail(GroupError.RebalanceInProgress);
    if (g.state === 'Stable') return Promise.resolve({ error: GroupError.None, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment });
    const result = new Promise<SyncResult>((resolve) => (m.syncWaiter = resolve));
    if (memberId === g.leader) {
      for (const a of assignments) {
        const target = g.members.get(a.memberId);
        if (target) target.assignment = a.assignment;
      }
      g.state = 'Stable';
      for (const x of g.members.values()) this.answerSync(x, { error: GroupError.None, protocolType: g.protocolType, protocolName: g.protocolName, assignment: x.assignment });
    }
    return result;
  }

  private answerSync(m: Member, r: SyncResult): void {
    const w = m.syncWaiter;
    m.syncWaiter = undefined;
    w?.(r);
  }

  heartbeat(groupId: string, generationId: number, memberId: string): GroupError {
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return GroupError.UnknownMemberId;
    if (generationId !== g.generationId) return GroupError.IllegalGeneration;
    this.armSession(g, m);
    return g.state === 'PreparingRebalance' ? GroupError.RebalanceInProgress : GroupError.None;
  }

  /** Removes members (LeaveGroup); returns a result per member id. */
  leaveGroup(groupId: string, memberIds: string[]): GroupError[] {
    const g = this.groups.get(groupId);
    return memberIds.map((id) => {
      const m = g?.members.get(id);
      if (!g || !m) return GroupError.UnknownMemberId;
      this.memberGone(g, m);
      return GroupError.None;
    });
  }

  private armSession(g: Group, m: Member): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    m.sessionTimer = setTimeout(() => {
      m.sessionTimer = undefined;
      if (g.members.get(m.memberId) === m) this.memberGone(g, m);
    }, m.sessionTimeoutMs);
    m.sessionTimer.unref();
  }

  private removeMember(g: Group, m: Member): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    g.members.delete(m.memberId);
    m.joinWaiter?.({ error: GroupError.UnknownMemberId, generationId: -1, protocolName: null, protocolType: null, leader: '', memberId: m.memberId, members: [] });
    m.joinWaiter = undefined;
    this.answerSync(m, { error: GroupError.UnknownMemberId, protocolType: null, protocolName: null, assignment: EMPTY });
  }

  private memberGone(g: Group, m: Member): void {
    this.removeMember(g, m);
    if (g.state === 'Stable' || g.state === 'CompletingRebalance') {
      if (g.members.size === 0) {
        g.state = 'Empty';
        g.generationId++;
        g.protocolName = '';
        g.leader = '';
      } else this.prepareRebalance(g);
    } else if (g.state === 'PreparingRebalance') {
      if (g.members.size === 0) {
        if (g.joinTimer) clearTimeout(g.joinTimer);
        g.joinTimer = undefined;
        g.state = 'Empty';
        g.generationId++;
      } else this.tryCompleteJoin(g);
    }
  }

  // ---- offsets -------------------------------------------------------------------------------------------

  /**
   * Commits offsets. generationId -1 with memberId '' is a simple (admin / manual-assignment) commit,
   * allowed while the group has no members; otherwise the member and generation must be current.
   */
  async commitOffsets(
    groupId: string,
    generationId: number,
    memberId: string,
    offsets: ReadonlyArray<{ stream: string; partition: number; offset: number; metadata?: string | null }>,
  ): Promise<GroupError> {
    if (this.closed) return GroupError.CoordinatorNotAvailable;
    if (groupId === '') return GroupError.InvalidGroupId;
    const g = this.groups.get(groupId);
    if (generationId < 0 && memberId === '') {
      if (g && g.members.size > 0) return GroupError.UnknownMemberId;
    } else {
      const m = g?.members.get(memberId);
      if (!g || !m) return GroupError.UnknownMemberId;
      if (generationId !== g.generationId) return GroupError.IllegalGeneration;
      if (g.state === 'PreparingRebalance') return GroupError.RebalanceInProgress;
      this.armSession(g, m);
    }
    const now = this.clock.nowMs();
    const records = offsets.map((o) => {
      const meta = o.metadata ?? null;
      const metaBytes = meta === null ? 0 : Buffer.byteLength(meta);
      const value = Buffer.allocUnsafe(20 + metaBytes);
      value.writeDoubleBE(o.offset, 0);
      value.writeDoubleBE(now, 8);
      value.writeInt32BE(meta === null ? -1 : metaBytes, 16);
      if (meta !== null) value.write(meta, 20);
      return { key: Buffer.from(offsetKey(groupId, o.stream, o.partition)), value, timestamp: now };
    });
    if (records.length === 0) return GroupError.None;
    await this.opts.offsetsLog.appendRecords(records);
    for (const r of records) this.applyOffsetRecord(r.key, r.value);
    this.group(groupId, true);
    return GroupError.None;
  }

  /** Committed offsets of a group; `partitions` undefined = all the group has. Missing ones are offset -1. */
  fetchOffsets(groupId: string, partitions?: ReadonlyArray<{ stream: string; partition: number }>): Array<{ stream: string; partition: number } & CommittedOffset> {
    const m = this.offsets.get(groupId);
    if (!partitions) return [...(m?.values() ?? [])].map((x) => ({ ...x }));
    return partitions.map(({ stream, partition }) => {
      const c = m?.get(offsetKey(groupId, stream, partition));
      return c ? { ...c } : { stream, partition, offset: -1, metadata: null, commitTimestampMs: -1 };
    });
  }

  // ---- admin ---------------------------------------------------------------------------------------------

  describeGroup(groupId: string): GroupDescription {
    const g = this.groups.get(groupId);
    if (!g) return { groupId, state: 'Dead', protocolType: '', protocolName: '', generationId: -1, members: [] };
    return {
      groupId,
      state: g.state,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      generationId: g.generationId,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? EMPTY,
        assignment: m.assignment,
      })),
    };
  }

  listGroups(): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    const ids = new Set([...this.groups.keys(), ...this.offsets.keys()]);
    return [...ids].map((id) => {
      const g = this.groups.get(id);
      return { groupId: id, protocolType: g?.protocolType ?? 'consumer', state: g?.state ?? 'Empty' };
    });
  }

  /** Deletes groups that have no members, with their committed offsets. */
  async deleteGroups(groupIds: string[]): Promise<GroupError[]> {
    const out: GroupError[] = [];
    for (const id of groupIds) {
      const g = this.groups.get(id);
      if (!g && !this.offsets.has(id)) {
        out.push(GroupError.GroupIdNotFound);
        continue;
      }
      if (g && g.members.size > 0) {
        out.push(GroupError.NonEmptyGroup);
        continue;
      }
      await this.opts.offsetsLog.appendRecords([{ key: Buffer.from(`${id}\u0000`), value: null, timestamp: this.clock.nowMs() }]);
      this.offsets.delete(id);
      this.groups.delete(id);
      out.push(GroupError.None);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const g of this.groups.values()) {
      if (g.joinTimer) clearTimeout(g.joinTimer);
      for (const m of g.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
    }
    await this.opts.offsetsLog.close();
  }
}
