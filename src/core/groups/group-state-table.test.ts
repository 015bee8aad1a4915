// Kafka's classic group state machine, request by request and state by state: which generation, member
// and state accept OffsetCommit, Heartbeat, SyncGroup, JoinGroup and LeaveGroup, and with which error
// otherwise (as Kafka's GroupCoordinator answers them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { GroupCoordinator, GroupError as E, type JoinRequest, type JoinResult } from './group-coordinator.js';

async function coordinator(opts: { sessionTimeoutMinMs?: number } = {}) {
  const offsetsLog = await FilePartitionLog.open({ fs: new MemoryFileSystem(), dir: '/offsets', fsync: 'never' });
  return GroupCoordinator.open({ offsetsLog, initialRebalanceDelayMs: 0, sessionTimeoutMinMs: opts.sessionTimeoutMinMs ?? 10 });
}

const req = (memberId: string, extra: Partial<JoinRequest> = {}): JoinRequest => ({
  groupId: 'g',
  memberId,
  clientId: 'c',
  clientHost: '/127.0.0.1',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 5_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('m') }],
  requireKnownMemberId: false,
  ...extra,
});
const OFF = [{ stream: 't', partition: 0, offset: 1 }];

/** A Stable group of two members (a is the leader). */
async function stable(c: GroupCoordinator, extraB: Partial<JoinRequest> = {}) {
  const a1 = await c.joinGroup(req(''));
  await c.syncGroup('g', a1.generationId, a1.memberId, [{ memberId: a1.memberId, assignment: Buffer.from('A') }]);
  const pb = c.joinGroup(req('', extraB));
  const [a, b] = await Promise.all([c.joinGroup(req(a1.memberId)), pb]);
  assert.equal(a.generationId, b.generationId);
  const assign = [{ memberId: a.memberId, assignment: Buffer.from('A') }, { memberId: b.memberId, assignment: Buffer.from('B') }];
  await Promise.all([c.syncGroup('g', a.generationId, a.memberId, assign), c.syncGroup('g', b.generationId, b.memberId, [])]);
  assert.equal(c.describeGroup('g').state, 'Stable');
  return { a, b, gen: a.generationId };
}

/** CompletingRebalance: both members have the new generation's JoinGroup response, nobody synced. */
async function completing(c: GroupCoordinator) {
  const s = await stable(c);
  const [a, b] = await Promise.all([c.joinGroup(req(s.a.memberId)), c.joinGroup(req(s.b.memberId, { protocols: [{ name: 'range', metadata: Buffer.from('changed') }] }))]);
  assert.equal(c.describeGroup('g').state, 'CompletingRebalance');
  return { a, b, gen: a.generationId };
}

/** PreparingRebalance: a third member is joining; a and b still hold the previous generation. */
async function preparing(c: GroupCoordinator) {
  const s = await stable(c);
  const third = c.joinGroup(req(''));
  assert.equal(c.describeGroup('g').state, 'PreparingRebalance');
  return { ...s, third };
}

test('OffsetCommit is accepted in Stable and PreparingRebalance, refused in CompletingRebalance, per Kafka', async () => {
  const c = await coordinator();
  const p = await preparing(c);
  // During PreparingRebalance a current member's commit is accepted: it learns of the rebalance from its heartbeat.
  assert.equal(await c.commitOffsets('g', p.gen, p.a.memberId, OFF), E.None);
  assert.equal(await c.commitOffsets('g', p.gen + 1, p.a.memberId, OFF), E.IllegalGeneration);
  assert.equal(await c.commitOffsets('g', p.gen, 'stranger', OFF), E.UnknownMemberId);
  assert.equal(await c.commitOffsets('g', -1, '', OFF), E.UnknownMemberId, 'a simple commit while the group has members');
  await c.close();

  const c2 = await coordinator();
  const k = await completing(c2);
  assert.equal(await c2.commitOffsets('g', k.gen, k.a.memberId, OFF), E.RebalanceInProgress, 'the new generation is not yet synced');
  assert.equal(await c2.commitOffsets('g', k.gen - 1, k.a.memberId, OFF), E.IllegalGeneration);
  assert.equal(await c2.commitOffsets('g', -1, '', OFF), E.UnknownMemberId);
  await Promise.all([c2.syncGroup('g', k.gen, k.a.memberId, []), c2.syncGroup('g', k.gen, k.b.memberId, [])]);
  assert.equal(c2.describeGroup('g').state, 'Stable');
  assert.equal(await c2.commitOffsets('g', k.gen, k.b.memberId, OFF), E.None);
  assert.equal(await c2.commitOffsets('g', k.gen, 'stranger', OFF), E.UnknownMemberId);

  // Empty: members gone; only simple commits (generation -1) are accepted.
  c2.leaveGroup('g', [k.a.memberId, k.b.memberId]);
  assert.equal(c2.describeGroup('g').state, 'Empty');
  assert.equal(await c2.commitOffsets('g', -1, '', [{ stream: 't', partition: 0, offset: 9 }]), E.None);
  assert.equal(await c2.commitOffsets('g', k.gen, k.a.memberId, OFF), E.UnknownMemberId);
  assert.equal(c2.fetchOffsets('g', [{ stream: 't', partition: 0 }])[0]!.offset, 9);
  // An unknown group: a simple commit creates it; a generation-based one is from an older generation.
  assert.equal(await c2.commitOffsets('other', 3, 'm', OFF), E.IllegalGeneration);
  assert.equal(await c2.commitOffsets('other', -1, '', OFF), E.None);
  await c2.close();
});

test('Heartbeat and SyncGroup answer per state: RebalanceInProgress while preparing, the assignment once stable', async () => {
  const c = await coordinator();
  const p = await preparing(c);
  assert.equal(c.heartbeat('g', p.gen, p.b.memberId), E.RebalanceInProgress);
  assert.equal(c.heartbeat('g', p.gen - 1, p.b.memberId), E.IllegalGeneration);
  assert.equal(c.heartbeat('g', p.gen, 'stranger'), E.UnknownMemberId);
  assert.equal(c.heartbeat('nogroup', 1, p.b.memberId), E.UnknownMemberId);
  assert.equal((await c.syncGroup('g', p.gen, p.b.memberId, [])).error, E.RebalanceInProgress);
  assert.equal((await c.syncGroup('g', p.gen + 1, p.b.memberId, [])).error, E.IllegalGeneration);
  assert.equal((await c.syncGroup('g', p.gen, 'stranger', [])).error, E.UnknownMemberId);
  const [a, b, t] = await Promise.all([c.joinGroup(req(p.a.memberId)), c.joinGroup(req(p.b.memberId)), p.third]);
  assert.deepEqual([a.error, b.error, t.error], [E.None, E.None, E.None]);
  // CompletingRebalance: heartbeats of the new generation are fine; the old one is illegal.
  assert.equal(c.heartbeat('g', a.generationId, b.memberId), E.None);
  assert.equal(c.heartbeat('g', p.gen, b.memberId), E.IllegalGeneration);
  const followerSync = c.syncGroup('g', b.generationId, b.memberId, []);
  await c.syncGroup('g', a.generationId, a.memberId, [{ memberId: b.memberId, assignment: Buffer.from('B2') }]);
  assert.equal((await followerSync).assignment.toString(), 'B2');
  // Stable: a late SyncGroup of the current generation gets its assignment (t was given none).
  const late = await c.syncGroup('g', t.generationId, t.memberId, []);
  assert.deepEqual([late.error, late.assignment.length], [E.None, 0]);
  assert.equal(c.heartbeat('g', a.generationId, t.memberId), E.None);
  await c.close();
});

test('JoinGroup per state: followers with unchanged metadata rejoin without a rebalance; the leader forces one', async () => {
  const c = await coordinator();
  const s = await stable(c);
  const again = await c.joinGroup(req(s.b.memberId));
  assert.deepEqual([again.error, again.generationId, again.members.length], [E.None, s.gen, 0]);
  assert.equal(c.describeGroup('g').state, 'Stable');
  assert.equal((await c.joinGroup(req('made-up'))).error, E.UnknownMemberId);
  assert.equal((await c.joinGroup(req('', { protocolType: 'connect' }))).error, E.InconsistentGroupProtocol);
  const leaderJoin = c.joinGroup(req(s.a.memberId));
  assert.equal(c.describeGroup('g').state, 'PreparingRebalance');
  const [l, f] = await Promise.all([leaderJoin, c.joinGroup(req(s.b.memberId))]);
  assert.equal(l.generationId, s.gen + 1);
  assert.equal(l.members.length, 2);
  // CompletingRebalance: the same metadata again (a lost response) gets the same generation back.
  const repeat = await c.joinGroup(req(f.memberId));
  assert.deepEqual([repeat.error, repeat.generationId], [E.None, f.generationId]);
  await c.close();
});

test('a pending member id (MEMBER_ID_REQUIRED) holds the join open until it rejoins, and can leave', async () => {
  const c = await coordinator();
  const s = await stable(c);
  const first = await c.joinGroup(req('', { requireKnownMemberId: true }));
  assert.equal(first.error, E.MemberIdRequired);
  assert.equal(c.describeGroup('g').state, 'Stable', 'handing out an id does not rebalance');
  const leaderJoin = c.joinGroup(req(s.a.memberId));
  const followerJoin = c.joinGroup(req(s.b.memberId));
  await new Promise((r) => setImmediate(r));
  assert.equal(c.describeGroup('g').state, 'PreparingRebalance', 'waits for the pending member');
  const third = c.joinGroup(req(first.memberId, { requireKnownMemberId: true }));
  const [x, y, z] = await Promise.all([leaderJoin, followerJoin, third]);
  assert.deepEqual([x.generationId, y.generationId, z.generationId], [s.gen + 1, s.gen + 1, s.gen + 1]);
  // A pending member id may leave before it joins.
  const another = await c.joinGroup(req('', { requireKnownMemberId: true }));
  assert.deepEqual(c.leaveGroup('g', [another.memberId, 'nobody']), [E.None, E.UnknownMemberId]);
  await c.close();
});

test('static members: a new join with a known group.instance.id fences the old member id', async () => {
  const c = await coordinator();
  const s = await stable(c, { groupInstanceId: 'i-1' });
  assert.equal(c.heartbeat('g', s.gen, s.b.memberId, 'i-1'), E.None);
  const replaced: JoinResult = await c.joinGroup(req('', { groupInstanceId: 'i-1' }));
  assert.equal(replaced.error, E.None);
  assert.equal(replaced.generationId, s.gen, 'no rebalance for an unchanged static member in Stable');
  assert.equal(replaced.leader, s.a.memberId);
  assert.equal(c.heartbeat('g', s.gen, s.b.memberId, 'i-1'), E.FencedInstanceId);
  assert.equal(await c.commitOffsets('g', s.gen, s.b.memberId, OFF, 'i-1'), E.FencedInstanceId);
  assert.equal((await c.syncGroup('g', s.gen, s.b.memberId, [], 'i-1')).error, E.FencedInstanceId);
  assert.equal(await c.commitOffsets('g', s.gen, replaced.memberId, OFF, 'i-1'), E.None);
  assert.equal(c.heartbeat('g', s.gen, replaced.memberId, 'i-2'), E.UnknownMemberId);
  assert.equal((await c.syncGroup('g', s.gen, replaced.memberId, [], 'i-1')).assignment.toString(), 'B');
  // LeaveGroup by instance id alone (an admin removing a static member).
  assert.deepEqual(c.leaveGroup('g', [{ memberId: '', groupInstanceId: 'i-1' }]), [E.None]);
  assert.equal(c.describeGroup('g').members.length, 1);
  await c.close();
});
