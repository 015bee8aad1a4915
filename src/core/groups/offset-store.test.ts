// Committed offsets: compaction of the internal log (size bounded by the distinct keys, every group's
// latest offsets restored after a restart) and retention of an empty group's offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { ManualClock } from '../../lib/clock.js';
import { GroupCoordinator, GroupError } from './group-coordinator.js';

const openLog = (fs: MemoryFileSystem) => FilePartitionLog.open({ fs, dir: '/offsets', fsync: 'never', segmentBytesMax: 16 * 1024 });

test('the offsets log is compacted: its size is bounded by the distinct keys, and a restart restores every latest offset', async () => {
  const fs = new MemoryFileSystem();
  const c = await GroupCoordinator.open({ offsetsLog: await openLog(fs), initialRebalanceDelayMs: 0, offsetsCompactionMinRecords: 200 });
  const groups = ['a', 'b', 'c', 'd'];
  const N = 20_000;
  const pending: Array<Promise<GroupError>> = [];
  for (let i = 0; i < N; i++) {
    const group = groups[i % 4]!;
    // Commits overlap (several in flight at once) the way pipelined clients' do.
    pending.push(c.commitOffsets(group, -1, '', [{ stream: 't', partition: (i >> 2) % 10, offset: i, metadata: `m${i}` }]));
    if (pending.length === 64) assert.ok((await Promise.all(pending.splice(0))).every((e) => e === GroupError.None));
  }
  await Promise.all(pending);
  assert.deepEqual(await c.deleteGroups(['d']), [GroupError.None]);
  await c.offsetStore.idle();
  await c.offsetStore.compact();
  const store = c.offsetStore;
  assert.equal(store.liveOffsets, 30, '3 groups × 10 partitions');
  // What is left: the snapshot, at most one older segment (16 KiB here) and what came after.
  assert.ok(store.logRecords < 30 + 2 * 200 + 600, `records left in the log: ${store.logRecords}`);
  const expected = new Map(groups.slice(0, 3).map((g) => [g, c.fetchOffsets(g)]));
  await c.close();

  const reopened = await GroupCoordinator.open({ offsetsLog: await openLog(fs), initialRebalanceDelayMs: 0 });
  for (const [g, offsets] of expected) {
    const sort = (l: typeof offsets) => [...l].sort((x, y) => x.partition - y.partition);
    assert.deepEqual(sort(reopened.fetchOffsets(g)), sort(offsets), `group ${g}`);
    assert.equal(sort(reopened.fetchOffsets(g))[9]!.offset, N - 4 + groups.indexOf(g));
  }
  assert.deepEqual(reopened.fetchOffsets('d'), [], 'a deleted group stays deleted');
  assert.ok(!reopened.listGroups().some((g) => g.groupId === 'd'));
  await reopened.close();
});

test('an empty group loses its offsets offsets.retention after it became empty; a group with members keeps them', async () => {
  const clock = new ManualClock();
  const fs = new MemoryFileSystem();
  const day = 24 * 3600 * 1000;
  const c = await GroupCoordinator.open({ offsetsLog: await openLog(fs), clock, initialRebalanceDelayMs: 0, sessionTimeoutMinMs: 10, offsetsRetentionMs: 7 * day });
  const join = (groupId: string) =>
    c.joinGroup({ groupId, memberId: '', clientId: 'c', clientHost: 'h', sessionTimeoutMs: 60_000, rebalanceTimeoutMs: 1000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], requireKnownMemberId: false });
  const live = await join('live');
  await c.syncGroup('live', live.generationId, live.memberId, []);
  assert.equal(await c.commitOffsets('live', live.generationId, live.memberId, [{ stream: 't', partition: 0, offset: 1 }]), GroupError.None);
  const left = await join('left');
  await c.syncGroup('left', left.generationId, left.memberId, []);
  assert.equal(await c.commitOffsets('left', left.generationId, left.memberId, [{ stream: 't', partition: 0, offset: 2 }]), GroupError.None);
  assert.equal(await c.commitOffsets('simple', -1, '', [{ stream: 't', partition: 0, offset: 3 }]), GroupError.None);
  clock.advance(6 * day);
  c.leaveGroup('left', [left.memberId]);
  await c.cleanup();
  assert.equal(c.fetchOffsets('simple').length, 1);
  clock.advance(day);
  await c.cleanup();
  // 'simple' committed 7 days ago: gone with its group. 'left' has been empty one day: kept. 'live' has a member.
  assert.deepEqual([c.fetchOffsets('simple').length, c.fetchOffsets('left').length, c.fetchOffsets('live').length], [0, 1, 1]);
  assert.deepEqual(c.listGroups().map((g) => g.groupId).sort(), ['left', 'live']);
  clock.advance(6 * day);
  await c.cleanup();
  assert.deepEqual(c.listGroups().map((g) => g.groupId), ['live']);
  await c.close();
  const reopened = await GroupCoordinator.open({ offsetsLog: await openLog(fs), initialRebalanceDelayMs: 0 });
  assert.deepEqual(reopened.listGroups().map((g) => g.groupId), ['live'], 'expiry is persisted');
  await reopened.close();
});

test('commits, group deletions and compactions racing each other: what a restart restores is what was answered last', async () => {
  const fs = new MemoryFileSystem();
  const c = await GroupCoordinator.open({ offsetsLog: await openLog(fs), initialRebalanceDelayMs: 0, offsetsCompactionMinRecords: 50 });
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let round = 0; round < 40; round++) {
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < 30; i++) {
      const group = `g${rnd(3)}`;
      const k = rnd(10);
      if (k === 0) ops.push(c.deleteGroups([group]));
      else if (k === 1) ops.push(c.offsetStore.compact());
      else ops.push(c.commitOffsets(group, -1, '', [{ stream: 's', partition: rnd(4), offset: round * 100 + i }]));
    }
    await Promise.all(ops);
  }
  await c.offsetStore.idle();
  const view = (x: GroupCoordinator) => ['g0', 'g1', 'g2'].map((g) => x.fetchOffsets(g).map((o) => `${o.partition}:${o.offset}`).sort().join(','));
  const before = view(c);
  await c.close();
  const reopened = await GroupCoordinator.open({ offsetsLog: await openLog(fs), initialRebalanceDelayMs: 0 });
  assert.deepEqual(view(reopened), before);
  await reopened.close();
});

test('a commit still waiting for its fsync when a compaction starts is kept by it', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/offsets', fsync: 'always', segmentBytesMax: 16 * 1024 });
  const c = await GroupCoordinator.open({ offsetsLog: log, initialRebalanceDelayMs: 0, offsetsCompactionMinRecords: 1e9 });
  // 600 live offsets: their snapshot is larger than a segment, so it starts a new one.
  for (let i = 0; i < 600; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => c.commitOffsets('g', -1, '', [{ stream: 's', partition: i + k, offset: 1 }])));
  const release = fs.holdSyncs();
  const late = c.commitOffsets('g', -1, '', [{ stream: 's', partition: 0, offset: 99 }]);
  await new Promise((r) => setImmediate(r));
  const compaction = c.offsetStore.compact();
  await new Promise((r) => setImmediate(r));
  release();
  assert.equal(await late, GroupError.None);
  await compaction;
  assert.equal(c.fetchOffsets('g', [{ stream: 's', partition: 0 }])[0]!.offset, 99);
  await c.close();
  const reopened = await GroupCoordinator.open({ offsetsLog: await openLog(fs), initialRebalanceDelayMs: 0 });
  assert.equal(reopened.fetchOffsets('g', [{ stream: 's', partition: 0 }])[0]!.offset, 99, 'the answered commit survives the compaction');
  assert.equal(reopened.fetchOffsets('g').length, 600);
  await reopened.close();
});
