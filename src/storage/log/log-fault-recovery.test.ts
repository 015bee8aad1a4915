// A disk fault (ENOSPC, EIO) does not disable a partition log until restart: once the fault clears, the next
// append recovers the tail and goes on; appends that failed were never confirmed; nothing confirmed is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../fs/memory-fs.js';
import { FilePartitionLog } from './partition-log.js';
import type { RecordInput } from './record-batch.js';
import type { FsyncPolicy, PartitionLogOptions } from './types.js';
import { StorageError } from '../../lib/errors.js';

const rec = (seq: number): RecordInput => ({ key: null, value: Buffer.from(`v${seq}`), timestamp: 1_000 + seq });
const batchOf = (from: number, n: number) => Array.from({ length: n }, (_, i) => rec(from + i));
const opts = (fs: MemoryFileSystem, fsync: FsyncPolicy): PartitionLogOptions => ({ fs, dir: '/p', fsync, segmentBytesMax: 4_000, indexIntervalBytes: 200 });

async function values(log: FilePartitionLog): Promise<string[]> {
  const out: string[] = [];
  let o = log.logStartOffset;
  while (o < log.nextOffset) {
    const rs = await log.readRecords(o, 1_000_000, 64 * 1024);
    assert.ok(rs.length > 0, `no progress at ${o}`);
    for (const r of rs) {
      assert.equal(r.offset, o, 'offsets are dense');
      out.push(r.value!.toString());
      o++;
    }
  }
  return out;
}

for (const fsync of ['always', 'interval', 'never'] as const) {
  test(`fsync=${fsync}: after ENOSPC, appends work again without a restart once space is freed`, async () => {
    const fs = new MemoryFileSystem();
    const log = await FilePartitionLog.open(opts(fs, fsync));
    const confirmed: string[] = [];
    let seq = 0;
    const append = async (n: number) => {
      const b = batchOf(seq, n);
      seq += n;
      const r = await log.appendRecords(b);
      confirmed.push(...b.map((x) => x.value!.toString()));
      return r;
    };
    for (let i = 0; i < 30; i++) await append(5);
    fs.capacityBytes = fs.usedBytes() + 100; // the next append is written only in part
    await assert.rejects(append(10), (e: unknown) => e instanceof StorageError && e.kind === 'ENOSPC');
    await assert.rejects(append(10), (e: unknown) => e instanceof StorageError && e.kind === 'ENOSPC', 'still full: still refused');
    fs.capacityBytes = Number.MAX_SAFE_INTEGER; // space freed
    const r = await append(3);
    assert.equal(r.baseOffset, 150, 'the failed appends took no offsets');
    for (let i = 0; i < 30; i++) await append(5); // across segment rolls
    await log.flush();
    assert.deepEqual(await values(log), confirmed);
    await log.close();
    const reopened = await FilePartitionLog.open(opts(fs.crash({ tail: 'torn' }), fsync));
    assert.deepEqual(await values(reopened), confirmed, 'a power loss after the flush keeps every confirmed record');
    await reopened.close();
  });
}

test('fsync=always: after an fdatasync EIO the next append rewrites the unsynced tail, and a power loss keeps every confirmed record', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open(opts(fs, 'always'));
  const confirmed: string[] = [];
  for (let i = 0; i < 10; i++) {
    await log.appendRecords(batchOf(i * 4, 4));
    confirmed.push(...batchOf(i * 4, 4).map((x) => x.value!.toString()));
  }
  fs.failNext('sync', 'EIO', 1, '/p/');
  await assert.rejects(log.appendRecords(batchOf(40, 4)), (e: unknown) => e instanceof StorageError && e.kind === 'EIO');
  // The failed append was written but never confirmed; the next one makes the whole tail durable again.
  const r = await log.appendRecords(batchOf(44, 4));
  assert.equal(r.baseOffset, 44);
  confirmed.push(...batchOf(44, 4).map((x) => x.value!.toString()));
  const after = await FilePartitionLog.open(opts(fs.crash({ tail: 'drop' }), 'always'));
  const got = await values(after);
  for (const v of confirmed) assert.ok(got.includes(v), `confirmed ${v} survives a power loss`);
  assert.equal(got.length, 48, 'the unconfirmed append is kept (written again), its offsets are not reused');
  await after.close();
  await log.close();
});

test('an index write that failed is rewritten from memory by the recovery; reads and a reopen agree', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open(opts(fs, 'never'));
  for (let i = 0; i < 5; i++) await log.appendRecords(batchOf(i * 5, 5));
  fs.failNext('append', 'EIO', 2, '.index');
  for (let i = 5; i < 10; i++) await log.appendRecords(batchOf(i * 5, 5)).catch(() => undefined);
  // Index writes happen behind the log: whichever append meets the failure, the log ends up failed, then
  // recovers at the next append.
  for (let i = 10; i < 40; i++) await log.appendRecords(batchOf(i * 5, 5));
  const got = await values(log);
  assert.equal(got.length, log.nextOffset);
  await log.close();
  const reopened = await FilePartitionLog.open(opts(fs, 'never'));
  assert.deepEqual(await values(reopened), got);
  await reopened.close();
});
