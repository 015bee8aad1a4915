// GroupCoordinator: Kafka's classic consumer-group protocol, protocol-neutral (design.md §1), following
// Kafka's group state machine (Empty, PreparingRebalance, CompletingRebalance, Stable; Dead once deleted):
// members, generations, pending member ids (JoinGroup v4+), static members (group.instance.id), protocol
// selection, join / sync / heartbeat / leave with the error Kafka gives in each state, session expiry,
// rebalance and sync timeouts, committed offsets (OffsetStore, persisted and compacted) and their
// retention, and removal of empty groups. Membership is not persisted (as in Kafka, members rejoin after a
// restart); committed offsets are. Outcomes are GroupError values that the Kafka layer maps to its codes.
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../lib/clock.js';
import { childLogger } from '../../lib/logger.js';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { EMPTY, Group, Member } from './group-state.js';
import { OffsetStore, type OffsetInput } from './offset-store.js';
import {
  GROUP_DEFAULTS,
  GroupError,
  type CommittedOffset,
  type GroupCoordinatorOptions,
  type GroupDescription,
  type GroupState,
  type JoinRequest,
  type JoinResult,
  type LeavingMember,
  type SyncResult,
} from './group-types.js';

export * from './group-types.js';

const joinError = (error: GroupError, memberId: string): JoinResult => ({ error, generationId: -1, protocolName: null, protocolType: null, leader: '', memberId, members: [] });
const syncError = (error: GroupError): SyncResult => ({ error, protocolType: null, protocolName: null, assignment: EMPTY });

export class GroupCoordinator {
  private readonly log = childLogger('groups');
  private readonly groups = new Map<string, Group>();
  private readonly clock: Clock;
  private readonly o: Required<Omit<GroupCoordinatorOptions, 'offsetsLog' | 'clock'>>;
  private readonly cleanupTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    opts: GroupCoordinatorOptions,
    private readonly offsets: OffsetStore,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.o = {
      initialRebalanceDelayMs: opts.initialRebalanceDelayMs ?? GROUP_DEFAULTS.initialRebalanceDelayMs,
      sessionTimeoutMinMs: opts.sessionTimeoutMinMs ?? GROUP_DEFAULTS.sessionTimeoutMinMs,
      sessionTimeoutMaxMs: opts.sessionTimeoutMaxMs ?? GROUP_DEFAULTS.sessionTimeoutMaxMs,
      offsetsRetentionMs: opts.offsetsRetentionMs ?? GROUP_DEFAULTS.offsetsRetentionMs,
      offsetsRetentionCheckIntervalMs: opts.offsetsRetentionCheckIntervalMs ?? GROUP_DEFAULTS.offsetsRetentionCheckIntervalMs,
      offsetsCompactionMinRecords: opts.offsetsCompactionMinRecords ?? GROUP_DEFAULTS.offsetsCompactionMinRecords,
      offsetMetadataMaxBytes: opts.offsetMetadataMaxBytes ?? GROUP_DEFAULTS.offsetMetadataMaxBytes,
    };
    // Groups with committed offsets exist (Empty) after a restart, as Kafka loads them.
    for (const id of offsets.groupIds()) this.groups.set(id, new Group(id));
    this.cleanupTimer = setInterval(() => void this.cleanup().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'group cleanup failed')), this.o.offsetsRetentionCheckIntervalMs);
    this.cleanupTimer.unref();
  }

  /** Opens the coordinator and replays committed offsets from its log. */
  static async open(opts: GroupCoordinatorOptions): Promise<GroupCoordinator> {
    const store = await OffsetStore.open(opts.offsetsLog, opts.clock ?? systemClock, opts.offsetsCompactionMinRecords ?? GROUP_DEFAULTS.offsetsCompactionMinRecords);
    return new GroupCoordinator(opts, store);
  }

  /** The committed-offsets store (compaction state, for tests and reports). */
  get offsetStore(): OffsetStore {
    return this.offsets;
  }

  // ---- join ----------------------------------------------------------------------------------------------

  joinGroup(req: JoinRequest): Promise<JoinResult> {
    const fail = (error: GroupError, memberId = req.memberId) => Promise.resolve(joinError(error, memberId));
    if (this.closed) return fail(GroupError.CoordinatorNotAvailable);
    if (req.groupId === '') return fail(GroupError.InvalidGroupId);
    if (req.sessionTimeoutMs < this.o.sessionTimeoutMinMs || req.sessionTimeoutMs > this.o.sessionTimeoutMaxMs) return fail(GroupError.InvalidSessionTimeout);
    const isNew = req.memberId === '';
    let g = this.groups.get(req.groupId);
    if (!g) {
      if (!isNew) return fail(GroupError.UnknownMemberId);
      this.groups.set(req.groupId, (g = new Group(req.groupId)));
      g.emptySinceMs = this.clock.nowMs();
    }
    const result = isNew ? this.joinNewMember(g, req) : this.joinCurrentMember(g, req);
    if (g.is('PreparingRebalance')) this.tryCompleteJoin(g);
    return result;
  }

  private joinNewMember(g: Group, req: JoinRequest): Promise<JoinResult> {
    if (!g.supports(req.protocolType, req.protocols)) return Promise.resolve(joinError(GroupError.InconsistentGroupProtocol, ''));
    const instanceId = req.groupInstanceId ?? null;
    const memberId = `${instanceId ?? req.clientId}-${randomUUID()}`;
    if (instanceId !== null) {
      const old = g.staticMembers.get(instanceId);
      if (old !== undefined && g.members.has(old)) return this.replaceStaticMember(g, g.members.get(old)!, memberId, req);
      return this.addMemberAndRebalance(g, memberId, req);
    }
    if (req.requireKnownMemberId) {
      // Kafka: the id is remembered as pending until the member joins with it, for one session timeout.
      const timer = setTimeout(() => this.expirePending(g, memberId), req.sessionTimeoutMs);
      timer.unref();
      g.pending.set(memberId, timer);
      return Promise.resolve(joinError(GroupError.MemberIdRequired, memberId));
    }
    return this.addMemberAndRebalance(g, memberId, req);
  }

  private joinCurrentMember(g: Group, req: JoinRequest): Promise<JoinResult> {
    const done = (r: JoinResult) => Promise.resolve(r);
    if (!g.supports(req.protocolType, req.protocols)) return done(joinError(GroupError.InconsistentGroupProtocol, req.memberId));
    const pendingTimer = g.pending.get(req.memberId);
    if (pendingTimer) {
      clearTimeout(pendingTimer);
      g.pending.delete(req.memberId);
      return this.addMemberAndRebalance(g, req.memberId, { ...req, groupInstanceId: null });
    }
    const err = g.validateMember(req.memberId, req.groupInstanceId ?? null);
    if (err) return done(joinError(err, req.memberId));
    const m = g.members.get(req.memberId)!;
    const current = (): JoinResult => ({
      error: GroupError.None,
      generationId: g.generationId,
      protocolName: g.protocolName,
      protocolType: g.protocolType,
      leader: g.leader,
      memberId: m.memberId,
      members: m.memberId === g.leader ? this.memberList(g) : [],
    });
    switch (g.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(g, m, req);
      case 'CompletingRebalance':
        // The same metadata: the member missed its JoinGroup response; it gets this generation again.
        return m.matches(req.protocols) ? done(current()) : this.updateMemberAndRebalance(g, m, req);
      case 'Stable':
        // The leader rejoining forces a rebalance (it may have seen metadata change); a follower with
        // unchanged metadata just gets the current generation back.
        return m.memberId === g.leader || !m.matches(req.protocols) ? this.updateMemberAndRebalance(g, m, req) : done(current());
      default:
        return done(joinError(GroupError.UnknownMemberId, req.memberId));
    }
  }

  private addMemberAndRebalance(g: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    const m = new Member(memberId, req.groupInstanceId ?? null, req.clientId, req.clientHost, req.sessionTimeoutMs, req.rebalanceTimeoutMs, req.protocolType, req.protocols);
    if (g.is('PreparingRebalance') && g.generationId === 0) g.newMemberAdded = true;
    if (g.members.size === 0) g.protocolType = req.protocolType;
    g.members.set(memberId, m);
    if (m.groupInstanceId !== null) g.staticMembers.set(m.groupInstanceId, memberId);
    const result = new Promise<JoinResult>((resolve) => (m.joinWaiter = resolve));
    // A new member cannot heartbeat until it has its id: its join is bounded by Kafka's fixed timeout.
    this.armSession(g, m, GROUP_DEFAULTS.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(g);
    return result;
  }

  private updateMemberAndRebalance(g: Group, m: Member, req: JoinRequest): Promise<JoinResult> {
    m.protocols = req.protocols;
    m.sessionTimeoutMs = req.sessionTimeoutMs;
    m.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    // A previous join of the same member still waiting is answered as superseded.
    m.joinWaiter?.(joinError(GroupError.RebalanceInProgress, m.memberId));
    const result = new Promise<JoinResult>((resolve) => (m.joinWaiter = resolve));
    this.maybePrepareRebalance(g);
    return result;
  }

  /** A known group.instance.id joins with no member id: it takes the old member's place (Kafka's replaceStaticMember). */
  private replaceStaticMember(g: Group, old: Member, memberId: string, req: JoinRequest): Promise<JoinResult> {
    if (old.sessionTimer) clearTimeout(old.sessionTimer);
    old.joinWaiter?.(joinError(GroupError.FencedInstanceId, old.memberId));
    old.joinWaiter = undefined;
    this.answerSync(old, syncError(GroupError.FencedInstanceId));
    const m = new Member(memberId, old.groupInstanceId, req.clientId, req.clientHost, req.sessionTimeoutMs, req.rebalanceTimeoutMs, req.protocolType, req.protocols);
    m.assignment = old.assignment;
    m.isNew = false;
    g.members.delete(old.memberId);
    g.members.set(memberId, m);
    g.staticMembers.set(m.groupInstanceId!, memberId);
    if (g.pendingSync.delete(old.memberId)) g.pendingSync.add(memberId);
    const oldLeader = g.leader;
    if (g.leader === old.memberId) g.leader = memberId;
    this.armSession(g, m);
    if (g.is('Stable') && g.selectProtocol() === g.protocolName) {
      // No rebalance: the new id gets the current generation; the old leader id keeps it from assigning.
      return Promise.resolve({ error: GroupError.None, generationId: g.generationId, protocolName: g.protocolName, protocolType: g.protocolType, leader: oldLeader, memberId, members: [] });
    }
    const result = new Promise<JoinResult>((resolve) => (m.joinWaiter = resolve));
    if (g.is('CompletingRebalance')) this.prepareRebalance(g);
    else this.maybePrepareRebalance(g);
    return result;
  }

  private expirePending(g: Group, memberId: string): void {
    if (!g.pending.delete(memberId)) return;
    if (g.is('PreparingRebalance')) this.tryCompleteJoin(g);
    // A group that only ever held pending ids (a flood of first JoinGroups) goes with the last of them.
    else if (g.is('Empty') && g.generationId === 0 && g.pending.size === 0 && g.protocolType === '' && !this.offsets.has(g.groupId)) this.removeGroup(g);
  }

  private removeGroup(g: Group): void {
    if (this.groups.get(g.groupId) !== g) return;
    g.state = 'Dead';
    g.clearTimers();
    this.groups.delete(g.groupId);
  }

  private maybePrepareRebalance(g: Group): void {
    if (g.is('Stable', 'CompletingRebalance', 'Empty')) this.prepareRebalance(g);
  }

  private prepareRebalance(g: Group): void {
    if (g.is('CompletingRebalance')) {
      for (const m of g.members.values()) {
        m.assignment = EMPTY;
        this.answerSync(m, syncError(GroupError.RebalanceInProgress));
      }
    }
    if (g.syncTimer) clearTimeout(g.syncTimer);
    g.syncTimer = undefined;
    g.pendingSync.clear();
    const wasEmpty = g.is('Empty');
    g.state = 'PreparingRebalance';
    if (g.joinTimer) clearTimeout(g.joinTimer);
    const rebalanceMs = g.rebalanceTimeoutMs();
    g.initialDelay = wasEmpty && this.o.initialRebalanceDelayMs > 0;
    g.newMemberAdded = false;
    if (g.initialDelay) {
      const delay = Math.min(this.o.initialRebalanceDelayMs, rebalanceMs);
      g.initialDelayRemainingMs = Math.max(rebalanceMs - this.o.initialRebalanceDelayMs, 0);
      g.joinTimer = setTimeout(() => this.onInitialDelay(g, delay), delay);
    } else {
      g.joinTimer = setTimeout(() => this.completeJoin(g), rebalanceMs);
    }
  }

  /** Kafka's InitialDelayedJoin: while new members keep arriving, wait again, up to the rebalance timeout. */
  private onInitialDelay(g: Group, lastDelay: number): void {
    g.joinTimer = undefined;
    if (g.newMemberAdded && g.initialDelayRemainingMs > 0) {
      g.newMemberAdded = false;
      const delay = Math.min(lastDelay, g.initialDelayRemainingMs);
      g.initialDelayRemainingMs = Math.max(g.initialDelayRemainingMs - lastDelay, 0);
      g.joinTimer = setTimeout(() => this.onInitialDelay(g, delay), delay);
      return;
    }
    g.initialDelay = false;
    this.completeJoin(g);
  }

  private tryCompleteJoin(g: Group): void {
    if (!g.is('PreparingRebalance') || g.initialDelay || !g.allJoined()) return;
    this.completeJoin(g);
  }

  private completeJoin(g: Group): void {
    if (!g.is('PreparingRebalance') || this.closed) return;
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.joinTimer = undefined;
    g.initialDelay = false;
    // Dynamic members that did not rejoin are gone; static ones stay (they may come back).
    for (const m of [...g.members.values()]) if (!m.joinWaiter && m.groupInstanceId === null) this.removeMember(g, m);
    const joined = [...g.members.values()].filter((m) => m.joinWaiter);
    if (g.members.size > 0 && joined.length === 0) {
      g.joinTimer = setTimeout(() => this.completeJoin(g), g.rebalanceTimeoutMs());
      return;
    }
    g.generationId++;
    if (g.members.size === 0) {
      this.becomeEmpty(g);
      return;
    }
    if (!g.members.get(g.leader)?.joinWaiter) g.leader = joined[0]!.memberId;
    g.protocolName = g.selectProtocol();
    g.state = 'CompletingRebalance';
    const all = this.memberList(g);
    for (const m of g.members.values()) {
      g.pendingSync.add(m.memberId);
      const w = m.joinWaiter;
      if (!w) continue;
      m.joinWaiter = undefined;
      m.isNew = false;
      this.armSession(g, m);
      w({ error: GroupError.None, generationId: g.generationId, protocolName: g.protocolName, protocolType: g.protocolType, leader: g.leader, memberId: m.memberId, members: m.memberId === g.leader ? all : [] });
    }
    // Members that never send SyncGroup for this generation are removed after the rebalance timeout.
    const generation = g.generationId;
    g.syncTimer = setTimeout(() => this.expirePendingSync(g, generation), g.rebalanceTimeoutMs());
  }

  private expirePendingSync(g: Group, generation: number): void {
    g.syncTimer = undefined;
    if (!g.is('CompletingRebalance', 'Stable') || g.generationId !== generation || g.pendingSync.size === 0) return;
    for (const id of g.pendingSync) {
      const m = g.members.get(id);
      if (m) this.removeMember(g, m);
    }
    g.pendingSync.clear();
    if (g.members.size === 0) this.toEmptyViaRebalance(g);
    else this.maybePrepareRebalance(g);
  }

  private memberList(g: Group): JoinResult['members'] {
    return [...g.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(g.protocolName) }));
  }

  private becomeEmpty(g: Group): void {
    g.state = 'Empty';
    g.protocolName = '';
    g.leader = '';
    g.emptySinceMs = this.clock.nowMs();
  }

  /** The last member left a group that was not rebalancing: Kafka rebalances to an empty generation. */
  private toEmptyViaRebalance(g: Group): void {
    if (g.syncTimer) clearTimeout(g.syncTimer);
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.syncTimer = g.joinTimer = undefined;
    g.pendingSync.clear();
    g.generationId++;
    this.becomeEmpty(g);
  }

  // ---- sync / heartbeat / leave --------------------------------------------------------------------------

  syncGroup(groupId: string, generationId: number, memberId: string, assignments: Array<{ memberId: string; assignment: Buffer }>, groupInstanceId: string | null = null): Promise<SyncResult> {
    const fail = (error: GroupError) => Promise.resolve(syncError(error));
    if (this.closed) return fail(GroupError.CoordinatorNotAvailable);
    if (groupId === '') return fail(GroupError.InvalidGroupId);
    const g = this.groups.get(groupId);
    if (!g) return fail(GroupError.UnknownMemberId);
    const err = g.validateMember(memberId, groupInstanceId) ?? (generationId !== g.generationId ? GroupError.IllegalGeneration : undefined);
    if (err) return fail(err);
    const m = g.members.get(memberId)!;
    switch (g.state) {
      case 'PreparingRebalance':
        return fail(GroupError.RebalanceInProgress);
      case 'Stable':
        g.pendingSync.delete(memberId);
        this.armSession(g, m);
        return Promise.resolve({ error: GroupError.None, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment });
      case 'CompletingRebalance': {
        this.answerSync(m, syncError(GroupError.RebalanceInProgress));
        const result = new Promise<SyncResult>((resolve) => (m.syncWaiter = resolve));
        g.pendingSync.delete(memberId);
        this.armSession(g, m);
        if (memberId === g.leader) {
          const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
          for (const x of g.members.values()) x.assignment = given.get(x.memberId) ?? EMPTY;
          g.state = 'Stable';
          for (const x of g.members.values()) this.answerSync(x, { error: GroupError.None, protocolType: g.protocolType, protocolName: g.protocolName, assignment: x.assignment });
        }
        return result;
      }
      default:
        return fail(GroupError.UnknownMemberId);
    }
  }

  private answerSync(m: Member, r: SyncResult): void {
    const w = m.syncWaiter;
    m.syncWaiter = undefined;
    w?.(r);
  }

  heartbeat(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null = null): GroupError {
    if (this.closed) return GroupError.CoordinatorNotAvailable;
    if (groupId === '') return GroupError.InvalidGroupId;
    const g = this.groups.get(groupId);
    if (!g) return GroupError.UnknownMemberId;
    const err = g.validateMember(memberId, groupInstanceId) ?? (generationId !== g.generationId ? GroupError.IllegalGeneration : undefined);
    if (err) return err;
    const m = g.members.get(memberId)!;
    switch (g.state) {
      case 'CompletingRebalance':
      case 'Stable':
        this.armSession(g, m);
        return GroupError.None;
      case 'PreparingRebalance':
        this.armSession(g, m);
        return GroupError.RebalanceInProgress;
      default:
        return GroupError.UnknownMemberId;
    }
  }

  /** Removes members (LeaveGroup): by member id, a pending member id, or (with an empty id) by instance id. */
  leaveGroup(groupId: string, leaving: ReadonlyArray<string | LeavingMember>): GroupError[] {
    const list = leaving.map((x) => (typeof x === 'string' ? { memberId: x, groupInstanceId: null } : x));
    if (this.closed) return list.map(() => GroupError.CoordinatorNotAvailable);
    if (groupId === '') return list.map(() => GroupError.InvalidGroupId);
    const g = this.groups.get(groupId);
    return list.map(({ memberId, groupInstanceId }) => {
      if (!g) return GroupError.UnknownMemberId;
      const instanceId = groupInstanceId ?? null;
      if (memberId === '') {
        const current = instanceId === null ? undefined : g.staticMembers.get(instanceId);
        const m = current === undefined ? undefined : g.members.get(current);
        if (!m) return GroupError.UnknownMemberId;
        this.memberGone(g, m);
        return GroupError.None;
      }
      const pendingTimer = g.pending.get(memberId);
      if (pendingTimer) {
        clearTimeout(pendingTimer);
        this.expirePending(g, memberId);
        return GroupError.None;
      }
      const err = g.validateMember(memberId, instanceId);
      if (err) return err;
      this.memberGone(g, g.members.get(memberId)!);
      return GroupError.None;
    });
  }

  /**
   * Arms a member's session: it expires unless a heartbeat, sync, commit or join renews it. A member
   * waiting in a JoinGroup or SyncGroup is alive by definition (Kafka counts those as heartbeats), except a
   * new member's first join, bounded by `ms`.
   */
  private armSession(g: Group, m: Member, ms = m.sessionTimeoutMs): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    m.sessionTimer = setTimeout(() => {
      m.sessionTimer = undefined;
      if (g.members.get(m.memberId) !== m) return;
      if (!m.isNew && (m.joinWaiter || m.syncWaiter)) this.armSession(g, m);
      else this.memberGone(g, m);
    }, ms);
    m.sessionTimer.unref();
  }

  private removeMember(g: Group, m: Member): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    m.sessionTimer = undefined;
    g.members.delete(m.memberId);
    g.pendingSync.delete(m.memberId);
    if (m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === m.memberId) g.staticMembers.delete(m.groupInstanceId);
    if (g.leader === m.memberId) g.leader = g.members.keys().next().value ?? '';
    const w = m.joinWaiter;
    m.joinWaiter = undefined;
    w?.(joinError(GroupError.UnknownMemberId, ''));
    this.answerSync(m, syncError(GroupError.UnknownMemberId));
  }

  /** Kafka's removeMemberAndUpdateGroup. */
  private memberGone(g: Group, m: Member): void {
    this.removeMember(g, m);
    if (g.is('Stable', 'CompletingRebalance')) {
      if (g.members.size === 0 && g.pending.size === 0) this.toEmptyViaRebalance(g);
      else this.prepareRebalance(g);
    } else if (g.is('PreparingRebalance')) this.tryCompleteJoin(g);
  }

  // ---- offsets -------------------------------------------------------------------------------------------

  /**
   * Commits offsets as Kafka's classic coordinator does. A generation below 0 with no member is a simple
   * (admin / manual-assignment) commit, accepted while the group is Empty (or unknown, which creates it);
   * otherwise the member (and instance id) must be current and the generation the group's: accepted in
   * Stable and PreparingRebalance (the member learns of the rebalance from its heartbeat), refused with
   * RebalanceInProgress in CompletingRebalance.
   */
  async commitOffsets(groupId: string, generationId: number, memberId: string, offsets: readonly OffsetInput[], groupInstanceId: string | null = null): Promise<GroupError> {
    if (this.closed) return GroupError.CoordinatorNotAvailable;
    let g = this.groups.get(groupId);
    if (!g) {
      if (generationId >= 0) return GroupError.IllegalGeneration;
      this.groups.set(groupId, (g = new Group(groupId)));
      g.emptySinceMs = this.clock.nowMs();
    }
    if (!(generationId < 0 && g.is('Empty'))) {
      if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
        const err = g.validateMember(memberId, groupInstanceId) ?? (generationId !== g.generationId ? GroupError.IllegalGeneration : undefined);
        if (err) return err;
      } else if (!g.is('Empty')) return GroupError.UnknownMemberId;
    }
    if (g.is('CompletingRebalance')) return GroupError.RebalanceInProgress;
    if (!offsets.every((o) => this.offsetMetadataFits(o.metadata))) return GroupError.OffsetMetadataTooLarge;
    const m = g.members.get(memberId);
    if (m && g.is('Stable', 'PreparingRebalance')) this.armSession(g, m);
    if (offsets.length === 0) return GroupError.None;
    try {
      await this.offsets.commit(groupId, offsets);
    } catch (err) {
      if (err instanceof BrokerError && err.code === ErrorCode.LimitExceeded) return GroupError.InvalidCommitOffsetSize;
      this.log.warn({ group: groupId, err: (err as Error).message }, 'offset commit not written');
      return GroupError.CoordinatorNotAvailable;
    }
    // The group may have been removed by a cleanup while the commit was written: its offsets bring it back.
    if (!this.groups.has(groupId) && this.offsets.has(groupId)) {
      const again = new Group(groupId);
      again.emptySinceMs = this.clock.nowMs();
      this.groups.set(groupId, again);
    }
    return GroupError.None;
  }

  /** Kafka's offset.metadata.max.bytes check (a protocol answers OFFSET_METADATA_TOO_LARGE per partition). */
  offsetMetadataFits(metadata: string | null | undefined): boolean {
    return metadata == null || (metadata.length <= this.o.offsetMetadataMaxBytes && Buffer.byteLength(metadata) <= this.o.offsetMetadataMaxBytes);
  }

  /** Committed offsets of a group; `partitions` undefined = all the group has. Missing ones are offset -1. */
  fetchOffsets(groupId: string, partitions?: ReadonlyArray<{ stream: string; partition: number }>): Array<{ stream: string; partition: number } & CommittedOffset> {
    if (!partitions) return this.offsets.list(groupId);
    return partitions.map(({ stream, partition }) => this.offsets.get(groupId, stream, partition) ?? { stream, partition, offset: -1, metadata: null, commitTimestampMs: -1 });
  }

  /** A stream was deleted: every group's committed offsets of it go too, as Kafka's do with a deleted topic. */
  async streamDeleted(stream: string): Promise<void> {
    if (!this.closed) await this.offsets.removeStream(stream).catch((err: unknown) => this.log.warn({ stream, err: (err as Error).message }, 'offsets of a deleted stream not removed'));
  }

  // ---- expiry --------------------------------------------------------------------------------------------

  /**
   * Kafka's periodic cleanup: offsets of an empty group expire offsetsRetentionMs after the group became
   * empty (after each commit's own time for a group that never had members here); an empty group without
   * offsets or pending member ids is removed. Runs every offsetsRetentionCheckIntervalMs.
   */
  async cleanup(): Promise<void> {
    if (this.closed) return;
    const now = this.clock.nowMs();
    for (const g of [...this.groups.values()]) {
      if (!g.is('Empty') || g.members.size > 0) continue;
      const expired = this.offsets.list(g.groupId).filter((o) => now - (g.emptySinceMs ?? o.commitTimestampMs) >= this.o.offsetsRetentionMs);
      if (expired.length > 0) await this.offsets.remove(g.groupId, expired);
      if (g.is('Empty') && g.members.size === 0 && g.pending.size === 0 && !this.offsets.has(g.groupId)) this.removeGroup(g);
    }
  }

  // ---- admin ---------------------------------------------------------------------------------------------

  describeGroup(groupId: string): GroupDescription {
    const g = this.groups.get(groupId);
    return g ? g.describe() : { groupId, state: 'Dead', protocolType: '', protocolName: '', generationId: -1, members: [] };
  }

  /** Counts for tests and monitoring: groups known, members, and member ids pending their second JoinGroup. */
  stats(): { groups: number; members: number; pendingMembers: number } {
    let members = 0;
    let pendingMembers = 0;
    for (const g of this.groups.values()) {
      members += g.members.size;
      pendingMembers += g.pending.size;
    }
    return { groups: this.groups.size, members, pendingMembers };
  }

  listGroups(): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    return [...this.groups.values()].map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.state }));
  }

  /** Deletes groups that have no members, with their committed offsets. */
  async deleteGroups(groupIds: string[]): Promise<GroupError[]> {
    const out: GroupError[] = [];
    for (const id of groupIds) {
      const g = this.groups.get(id);
      if (!g) {
        out.push(GroupError.GroupIdNotFound);
        continue;
      }
      if (!g.is('Empty')) {
        out.push(GroupError.NonEmptyGroup);
        continue;
      }
      g.state = 'Dead';
      g.clearTimers();
      this.groups.delete(id);
      try {
        await this.offsets.deleteGroup(id);
        out.push(GroupError.None);
      } catch (err) {
        this.log.warn({ group: id, err: (err as Error).message }, 'group deletion not written');
        if (!this.groups.has(id) && this.offsets.has(id)) this.groups.set(id, new Group(id));
        out.push(GroupError.CoordinatorNotAvailable);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.cleanupTimer);
    for (const g of this.groups.values()) {
      g.clearTimers();
      for (const m of g.members.values()) {
        const w = m.joinWaiter;
        m.joinWaiter = undefined;
        w?.(joinError(GroupError.CoordinatorNotAvailable, m.memberId));
        this.answerSync(m, syncError(GroupError.CoordinatorNotAvailable));
      }
    }
    await this.offsets.close();
  }
}
