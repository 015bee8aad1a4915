// Visibility (docs/architecture.md "Visibility"): durable reads stop at the high watermark, which moves only
// when the fsync policy has made records durable; a power loss never takes a record a durable read returned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../fs/memory-fs.js';
import { FilePartitionLog } from './partition-log.js';
import { encodeBatch, type RecordInput } from './record-batch.js';
import { Limits } from '../../lib/limits.js';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { FsyncPolicy } from './types.js';

const rec = (v: string): RecordInput => ({ key: null, value: Buffer.from(v), timestamp: 1_000 });

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'condition never held');
}

async function durableValues(log: FilePartitionLog): Promise<string[]> {
  const out: string[] = [];
  for (let o = log.logStartOffset; o < log.highWatermark; ) {
    const rs = await log.readRecords(o, 1_000, 1024 * 1024, 'durable');
    assert.ok(rs.length > 0, `no progress at ${o}`);
    for (const r of rs) out.push(r.value!.toString());
    o = rs[rs.length - 1]!.offset + 1;
  }
  return out;
}

test('fsync=always: a durable read does not return a record until the fdatasync covering it completes, and a power loss never takes a record a reader saw', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/p', fsync: 'always' });
  await log.appendRecords([rec('a')]);
  assert.equal(log.highWatermark, 1);
  const woke: number[] = [];
  log.onHighWatermark((hw) => woke.push(hw));

  const release = fs.holdSyncs('/p/');
  const pending = log.appendRecords([rec('b')]);
  let acked = false;
  void pending.then(() => (acked = true));
  await until(() => log.nextOffset === 2);
  // Written, not yet durable: readers see only 'a'; the written read (the owner's) sees both.
  assert.equal(log.highWatermark, 1);
  assert.deepEqual(await durableValues(log), ['a']);
  const r = await log.read(1, 1024, 'durable');
  assert.equal(r.data.length, 0);
  assert.equal(r.nextOffset, 1);
  assert.equal((await log.readRecords(0, 10)).length, 2);
  assert.deepEqual(woke, [], 'no wake-up before the sync');
  assert.equal(acked, false);

  // A power loss now loses 'b', which no reader saw.
  const lost = await FilePartitionLog.open({ fs: fs.crash(), dir: '/p', fsync: 'always' });
  assert.deepEqual(await durableValues(lost), ['a']);
  await lost.close();

  release();
  await pending;
  assert.equal(log.highWatermark, 2);
  assert.deepEqual(woke, [2]);
  assert.deepEqual(await durableValues(log), ['a', 'b']);
  // Everything a reader saw survives a power loss.
  const after = await FilePartitionLog.open({ fs: fs.crash(), dir: '/p', fsync: 'always' });
  assert.deepEqual(await durableValues(after), ['a', 'b']);
  await after.close();
  await log.close();
});

test('fsync=always: transient appends resolve at once but become visible only after an fsync the log starts itself', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/p', fsync: 'always' });
  const release = fs.holdSyncs('/p/');
  await log.appendRecords([rec('t')], { durable: false });
  assert.equal(log.nextOffset, 1);
  assert.equal(log.highWatermark, 0);
  assert.deepEqual(await durableValues(log), []);
  release();
  await until(() => log.highWatermark === 1);
  assert.deepEqual(await durableValues(log), ['t']);
  await log.close();
});

test('fsync=interval: records become visible with the interval fsync covering them', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/p', fsync: 'interval', fsyncIntervalMs: 5 });
  const release = fs.holdSyncs('/p/');
  await log.appendRecords([rec('i')]);
  assert.equal(log.highWatermark, 0, 'written, acknowledged, not yet synced');
  assert.deepEqual(await durableValues(log), []);
  release();
  await until(() => log.highWatermark === 1);
  assert.deepEqual(await durableValues(log), ['i']);
  await log.close();
});

for (const [policy, ephemeral] of [['never', false], ['always', true]] as Array<[FsyncPolicy, boolean]>) {
  test(`fsync=${policy}${ephemeral ? ' (ephemeral log)' : ''}: records are visible once written`, async () => {
    const fs = new MemoryFileSystem();
    const log = await FilePartitionLog.open({ fs, dir: '/p', fsync: policy, ephemeral });
    fs.holdSyncs();
    await log.appendRecords([rec('n')]);
    assert.equal(log.highWatermark, 1);
    assert.deepEqual(await durableValues(log), ['n']);
  });
}

test('a rolled segment is visible whole; the high watermark survives reopen', async () => {
  const fs = new MemoryFileSystem();
  let log = await FilePartitionLog.open({ fs, dir: '/p', fsync: 'always', segmentBytesMax: 200 });
  for (let i = 0; i < 10; i++) await log.appendRecords([rec(`r${i}`.padEnd(40, '.'))]);
  assert.ok(log.segmentCount > 2);
  assert.equal(log.highWatermark, 10);
  await log.close();
  log = await FilePartitionLog.open({ fs, dir: '/p', fsync: 'always', segmentBytesMax: 200 });
  assert.equal(log.highWatermark, 10);
  assert.equal((await durableValues(log)).length, 10);
  await log.close();
});

// ---- ranges at the edge (offsets are doubles; index positions and relative offsets are 32-bit) ----------

test('segment sizes beyond the 32-bit index range are refused', async () => {
  const fs = new MemoryFileSystem();
  for (const bad of [Limits.segmentBytesMax + 1, 2 ** 32, 0, 1.5]) {
    await assert.rejects(FilePartitionLog.open({ fs, dir: '/p', segmentBytesMax: bad }), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.InvalidArgument);
  }
  const ok = await FilePartitionLog.open({ fs, dir: '/p', segmentBytesMax: Limits.segmentBytesMax });
  await ok.close();
});

test('offsets that are not safe integers are out of range for reads; appends past 2^53 - 1 are refused without failing the log', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/p', initialOffset: Number.MAX_SAFE_INTEGER - 2 });
  await log.appendRecords([rec('x')]);
  for (const o of [Number.MAX_SAFE_INTEGER + 2, 2 ** 63, -1, Number.NaN, 0.5]) {
    await assert.rejects(log.read(o, 100, 'durable'), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.OffsetOutOfRange, `offset ${o}`);
  }
  await assert.rejects(log.appendRecords([rec('y'), rec('z'), rec('w')]), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.LimitExceeded);
  const r = await log.appendRecords([rec('y')]);
  assert.equal(r.lastOffset, Number.MAX_SAFE_INTEGER - 1);
  assert.deepEqual(await durableValues(log), ['x', 'y']);
  await log.close();
});

test('a batch whose offset delta passes the 32-bit relative index range rolls the segment instead of breaking the index', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/p', indexIntervalBytes: 1 });
  await log.appendRecords([rec('a')]);
  // A batch claiming a gap of 2^32 offsets (lastOffsetDelta is the client's word; the log keeps it).
  const gap = encodeBatch([rec('b')]);
  gap.writeInt32BE(2 ** 31 - 1, 23);
  const { crc32c } = await import('@node-rs/crc32');
  gap.writeUInt32BE(crc32c(gap.subarray(21)), 17);
  for (let i = 0; i < 3; i++) await log.append(Buffer.from(gap));
  await log.appendRecords([rec('c')]);
  assert.ok(log.segmentCount >= 2);
  await log.close();
  const re = await FilePartitionLog.open({ fs, dir: '/p', indexIntervalBytes: 1 });
  assert.equal(re.nextOffset, 1 + 3 * 2 ** 31 + 1);
  const last = await re.readRecords(re.nextOffset - 1, 1, 1024, 'durable');
  assert.equal(last[0]!.value!.toString(), 'c');
  await re.close();
});
