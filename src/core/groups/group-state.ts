// The in-memory state of one classic group and its members (no behaviour beyond bookkeeping; the state
// machine is GroupCoordinator's).
import { GroupError, type GroupDescription, type GroupProtocol, type GroupState, type JoinResult, type SyncResult } from './group-types.js';

export const EMPTY = Buffer.alloc(0);

export class Member {
  assignment: Buffer = EMPTY;
  joinWaiter: ((r: JoinResult) => void) | undefined;
  syncWaiter: ((r: SyncResult) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
  /** Joined in the rebalance under way and has not been part of a generation yet. */
  isNew = true;
  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    readonly protocolType: string,
    public protocols: GroupProtocol[],
  ) {}

  /** Same protocols with the same metadata, in the same order (Kafka's MemberMetadata.matches). */
  matches(protocols: GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata));
  }

  metadataFor(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  /** Set by the first member; '' for a group only ever used for commits (a "simple" group). */
  protocolType = '';
  protocolName = '';
  leader = '';
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, awaiting their second JoinGroup; each expires. */
  readonly pending = new Map<string, NodeJS.Timeout>();
  /** group.instance.id → member id of the static member holding it. */
  readonly staticMembers = new Map<string, string>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  joinTimer: NodeJS.Timeout | undefined;
  syncTimer: NodeJS.Timeout | undefined;
  /** The join phase is the initial delay of a group that was empty (Kafka's InitialDelayedJoin). */
  initialDelay = false;
  initialDelayRemainingMs = 0;
  newMemberAdded = false;
  /** When the group last became Empty; undefined if it has been empty since it was loaded. */
  emptySinceMs: number | undefined;
  constructor(readonly groupId: string) {}

  is(...states: GroupState[]): boolean {
    return states.includes(this.state);
  }

  rebalanceTimeoutMs(): number {
    let ms = 0;
    for (const m of this.members.values()) ms = Math.max(ms, m.rebalanceTimeoutMs);
    return ms;
  }

  allJoined(): boolean {
    if (this.pending.size > 0) return false;
    for (const m of this.members.values()) if (!m.joinWaiter) return false;
    return true;
  }

  /** Protocol names every member supports, in the first member's order of preference. */
  candidateProtocols(): string[] {
    let common: string[] | undefined;
    for (const m of this.members.values()) {
      const names = m.protocols.map((p) => p.name);
      common = common === undefined ? names : common.filter((n) => names.includes(n));
    }
    return common ?? [];
  }

  /** Kafka's supportsProtocols: an empty group takes any; otherwise same type and one protocol in common. */
  supports(protocolType: string, protocols: GroupProtocol[]): boolean {
    if (this.state === 'Empty') return protocolType !== '' && protocols.length > 0;
    const candidates = this.candidateProtocols();
    return protocolType === this.protocolType && protocols.some((p) => candidates.includes(p.name));
  }

  /** Kafka's validateCurrentMember: a static instance id must map to this member id; the member must exist. */
  validateMember(memberId: string, groupInstanceId: string | null): GroupError | undefined {
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current === undefined) return GroupError.UnknownMemberId;
      if (current !== memberId) return GroupError.FencedInstanceId;
    }
    return this.members.has(memberId) ? undefined : GroupError.UnknownMemberId;
  }

  /** The candidate most members prefer, each voting for its first supported candidate. */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const pick = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(pick, (votes.get(pick) ?? 0) + 1);
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]![0];
  }

  describe(): GroupDescription {
    return {
      groupId: this.groupId,
      state: this.state,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      generationId: this.generationId,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: m.metadataFor(this.protocolName),
        assignment: m.assignment,
      })),
    };
  }

  clearTimers(): void {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.joinTimer = this.syncTimer = undefined;
    for (const t of this.pending.values()) clearTimeout(t);
    for (const m of this.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
  }
}
