import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { GroupCoordinator, GroupError, type JoinRequest, type JoinResult } from './group-coordinator.js';

async function coordinator(fs = new MemoryFileSystem()) {
  const offsetsLog = await FilePartitionLog.open({ fs, dir: '/offsets', fsync: 'always' });
  return { fs, c: await GroupCoordinator.open({ offsetsLog, initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 10 }) };
}

const join = (c: GroupCoordinator, memberId: string, extra: Partial<JoinRequest> = {}) =>
  c.joinGroup({
    groupId: 'g',
    memberId,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 300,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m-' + memberId) }],
    requireKnownMemberId: false,
    ...extra,
  });

async function syncAll(c: GroupCoordinator, joins: JoinResult[]) {
  const leader = joins.find((j) => j.members.length > 0)!;
  return Promise.all(
    joins.map((j) => c.syncGroup('g', j.generationId, j.memberId, j === leader ? leader.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.from('a:' + m.memberId) })) : [])),
  );
}

test('three members join one by one, rebalancing each time; a leave and a session expiry rebalance too', async () => {
  const { c } = await coordinator();
  const j1 = await join(c, '');
  assert.equal(j1.error, GroupError.None);
  assert.equal(j1.generationId, 1);
  assert.equal(j1.leader, j1.memberId);
  await syncAll(c, [j1]);
  assert.equal(c.describeGroup('g').state, 'Stable');

  // Member 2 joins; member 1 learns of the rebalance through its heartbeat and rejoins.
  const p2 = join(c, '');
  assert.equal(c.heartbeat('g', 1, j1.memberId), GroupError.RebalanceInProgress);
  const [r1, r2] = await Promise.all([join(c, j1.memberId), p2]);
  assert.equal(r1.generationId, 2);
  assert.equal(r2.generationId, 2);
  assert.equal(r1.leader, j1.memberId, 'the leader stays');
  assert.equal(r1.members.length, 2);
  const s = await syncAll(c, [r1, r2]);
  assert.deepEqual(s.map((x) => x.assignment.toString()), [`a:${r1.memberId}`, `a:${r2.memberId}`]);

  const p3 = join(c, '', { sessionTimeoutMs: 50 });
  const [q1, q2, q3] = await Promise.all([join(c, r1.memberId), join(c, r2.memberId), p3]);
  assert.deepEqual([q1.generationId, q2.generationId, q3.generationId], [3, 3, 3]);
  await syncAll(c, [q1, q2, q3]);
  assert.equal(c.describeGroup('g').members.length, 3);
  assert.equal(c.heartbeat('g', 2, q1.memberId), GroupError.IllegalGeneration);
  assert.equal(c.heartbeat('g', 3, 'nobody'), GroupError.UnknownMemberId);

  // Member 2 leaves.
  assert.deepEqual(c.leaveGroup('g', [q2.memberId]), [GroupError.None]);
  assert.equal(c.describeGroup('g').state, 'PreparingRebalance');
  // Member 3 stops heartbeating (50 ms session) while 1 rejoins: the join completes without it.
  const t1 = await join(c, q1.memberId);
  assert.equal(t1.generationId, 4);
  assert.deepEqual(c.describeGroup('g').members.map((m) => m.memberId), [q1.memberId]);
});

test('member-id-required flow (JoinGroup v4+) and inconsistent protocols', async () => {
  const { c } = await coordinator();
  const first = await join(c, '', { requireKnownMemberId: true });
  assert.equal(first.error, GroupError.MemberIdRequired);
  assert.match(first.memberId, /^client-/);
  const second = await join(c, first.memberId, { requireKnownMemberId: true });
  assert.equal(second.error, GroupError.None);
  assert.equal((await join(c, 'made-up')).error, GroupError.UnknownMemberId);
  const other = await join(c, '', { protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }] });
  assert.equal(other.error, GroupError.InconsistentGroupProtocol);
  assert.equal((await join(c, '', { sessionTimeoutMs: 1 })).error, GroupError.InvalidSessionTimeout);
});

test('committed offsets: generation checks, fetch, survive reopen; delete only when empty', async () => {
  const { fs, c } = await coordinator();
  const j = await join(c, '');
  await syncAll(c, [j]);
  assert.equal(await c.commitOffsets('g', j.generationId + 1, j.memberId, [{ stream: 't', partition: 0, offset: 5 }]), GroupError.IllegalGeneration);
  assert.equal(await c.commitOffsets('g', j.generationId, j.memberId, [{ stream: 't', partition: 0, offset: 42, metadata: 'meta' }, { stream: 't', partition: 1, offset: 7 }]), GroupError.None);
  assert.equal(await c.commitOffsets('simple', -1, '', [{ stream: 't', partition: 0, offset: 3 }]), GroupError.None);
  assert.deepEqual(c.fetchOffsets('g', [{ stream: 't', partition: 0 }, { stream: 't', partition: 9 }]).map((o) => [o.offset, o.metadata]), [[42, 'meta'], [-1, null]]);
  assert.deepEqual((await c.deleteGroups(['g', 'nope'])), [GroupError.NonEmptyGroup, GroupError.GroupIdNotFound]);
  await c.close();
  const reopened = await GroupCoordinator.open({ offsetsLog: await FilePartitionLog.open({ fs: fs.processCrash(), dir: '/offsets' }), initialRebalanceDelayMs: 0 });
  assert.equal(reopened.fetchOffsets('g').length, 2);
  assert.equal(reopened.fetchOffsets('simple')[0]!.offset, 3);
  assert.deepEqual(await reopened.deleteGroups(['g']), [GroupError.None]);
  assert.equal(reopened.fetchOffsets('g').length, 0);
  assert.ok(reopened.listGroups().some((g) => g.groupId === 'simple'));
  await reopened.close();
});
