import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryFileSystem } from '../fs/memory-fs.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import type { FileSystem } from '../fs/file-system.js';
import { FilePartitionLog } from './partition-log.js';
import { encodeBatch, decodeBatch, type RecordInput } from './record-batch.js';
import { BrokerError, ErrorCode, StorageError } from '../../lib/errors.js';
import { ManualClock } from '../../lib/clock.js';
import type { PartitionLogOptions } from './types.js';

const rec = (seq: number, ts = 1_000 + seq): RecordInput => ({ key: null, value: Buffer.from(`v${seq}`), timestamp: ts });
const batchOf = (from: number, n: number) => Array.from({ length: n }, (_, i) => rec(from + i));

async function allValues(log: FilePartitionLog): Promise<string[]> {
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

const memOpts = (fs: FileSystem, extra: Partial<PartitionLogOptions> = {}): PartitionLogOptions => ({ fs, dir: '/p', segmentBytesMax: 2_000, indexIntervalBytes: 200, ...extra });

for (const [name, make] of [
  ['memory', () => ({ fs: new MemoryFileSystem() as FileSystem, dir: '/p' })],
  ['node', () => ({ fs: new NodeFileSystem() as FileSystem, dir: join(mkdtempSync(join(tmpdir(), 'plog-')), 'p') })],
] as const) {
  test(`${name}: append assigns dense offsets across rolled segments; reads by offset and time; reopen`, async () => {
    const { fs, dir } = make();
    let log = await FilePartitionLog.open({ fs, dir, segmentBytesMax: 1_500, indexIntervalBytes: 100, fsync: 'always' });
    let seq = 0;
    for (let i = 0; i < 60; i++) {
      const n = 1 + (i % 7);
      const r = await log.appendRecords(batchOf(seq, n));
      assert.equal(r.baseOffset, seq);
      assert.equal(r.lastOffset, seq + n - 1);
      seq += n;
    }
    assert.ok(log.segmentCount > 3);
    assert.equal(log.nextOffset, seq);
    const values = await allValues(log);
    assert.deepEqual(values, Array.from({ length: seq }, (_, i) => `v${i}`));
    assert.equal(await log.offsetForTimestamp(1_000 + 77), 77);
    assert.equal(await log.offsetForTimestamp(0), 0);
    assert.equal(await log.offsetForTimestamp(1e12), undefined);
    const mid = await log.readRecords(101, 3);
    assert.deepEqual(mid.map((r) => r.offset), [101, 102, 103]);
    await assert.rejects(log.read(seq + 1, 100), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.OffsetOutOfRange);
    assert.equal((await log.read(seq, 100)).data.length, 0);
    await log.close();
    log = await FilePartitionLog.open({ fs, dir, segmentBytesMax: 1_500, indexIntervalBytes: 100 });
    assert.equal(log.nextOffset, seq);
    assert.deepEqual(await allValues(log), values);
    assert.equal((await log.appendRecords([rec(seq)])).baseOffset, seq);
    await log.destroy();
  });
}

test('read returns whole batches, at least one even when larger than maxBytes', async () => {
  const log = await FilePartitionLog.open(memOpts(new MemoryFileSystem(), { segmentBytesMax: 1e9 }));
  await log.appendRecords(batchOf(0, 50));
  await log.appendRecords(batchOf(50, 50));
  const r = await log.read(10, 10);
  const recs = decodeBatch(r.data, 0);
  assert.equal(recs.length, 50);
  assert.equal(r.nextOffset, 100);
  const r2 = await log.read(60, 1e6);
  assert.equal(decodeBatch(r2.data, 0)[0]!.offset, 50);
});

test('a corrupt batch is refused and nothing is written', async () => {
  const log = await FilePartitionLog.open(memOpts(new MemoryFileSystem()));
  const b = encodeBatch(batchOf(0, 3));
  b[b.length - 1] ^= 1;
  await assert.rejects(log.append(b), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.CorruptData && /bad_crc/.test(e.message));
  await assert.rejects(log.append(Buffer.from([1, 2, 3])), BrokerError);
  assert.equal(log.nextOffset, 0);
  assert.equal(log.sizeBytes, 0);
});

test('ENOSPC and EIO stop writes with a StorageError and lose nothing confirmed', async () => {
  const fs = new MemoryFileSystem();
  let log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  await log.appendRecords(batchOf(0, 10));
  fs.capacityBytes = fs.usedBytes() + 50;
  await assert.rejects(log.appendRecords(batchOf(10, 10)), (e: unknown) => e instanceof StorageError && e.kind === 'ENOSPC');
  await assert.rejects(log.appendRecords(batchOf(10, 1)), StorageError);
  await log.close();
  fs.capacityBytes = Number.MAX_SAFE_INTEGER;
  log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  assert.deepEqual(await allValues(log), batchOf(0, 10).map((r) => r.value!.toString()));
  fs.failNext('sync', 'EIO');
  await assert.rejects(log.appendRecords(batchOf(10, 2)), (e: unknown) => e instanceof StorageError && e.kind === 'EIO');
  await log.close();
  log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  assert.ok(log.nextOffset >= 10);
});

test('a torn tail is truncated at open with a warning; garbage indexes are rebuilt', async () => {
  const fs = new MemoryFileSystem();
  let log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  for (let i = 0; i < 20; i++) await log.appendRecords(batchOf(i * 5, 5));
  await log.close();
  const size = (await fs.size('/p/00000000000000000000.log'))!;
  fs.corrupt('/p/00000000000000000000.log', size - 5, 1);
  log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  assert.equal(log.nextOffset, 95);
  await log.close();
  fs.corrupt('/p/00000000000000000000.index', 0, 8);
  log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  assert.equal(log.nextOffset, 95);
  assert.equal((await log.readRecords(61, 1))[0]!.offset, 61);
  await log.close();
});

test('corruption inside an older segment is refused with file and position', async () => {
  const fs = new MemoryFileSystem();
  let log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 300, indexIntervalBytes: 1e9 }));
  for (let i = 0; i < 20; i++) await log.appendRecords(batchOf(i * 5, 5));
  await log.close();
  fs.corrupt('/p/00000000000000000000.log', 100, 1);
  await assert.rejects(FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 300, indexIntervalBytes: 1e9 })), (e: unknown) => e instanceof StorageError && e.kind === 'CORRUPT' && /position/.test(e.message));
});

test('retention by bytes and time deletes whole old segments only; deleteBefore frees settled prefixes', async () => {
  const clock = new ManualClock(1_000_000);
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 400, retentionBytes: 1_200, clock }));
  for (let i = 0; i < 40; i++) await log.appendRecords([{ key: null, value: Buffer.alloc(50), timestamp: clock.nowMs() }]);
  const before = log.segmentCount;
  assert.ok((await log.enforceRetention()) > 0);
  assert.ok(log.segmentCount < before && log.sizeBytes <= 1_200 + 400);
  assert.ok(log.logStartOffset > 0);
  assert.equal((await log.readRecords(log.logStartOffset, 1))[0]!.offset, log.logStartOffset);
  await assert.rejects(log.read(0, 10), BrokerError);
  const timeLog = await FilePartitionLog.open({ fs, dir: '/t', segmentBytesMax: 200, retentionMs: 1_000, clock });
  for (let i = 0; i < 10; i++) await timeLog.appendRecords([{ key: null, value: Buffer.alloc(100), timestamp: clock.nowMs() }]);
  clock.advance(5_000);
  await timeLog.appendRecords([{ key: null, value: Buffer.alloc(100), timestamp: clock.nowMs() }]);
  await timeLog.enforceRetention();
  assert.equal(timeLog.segmentCount, 1);
  assert.equal(timeLog.logStartOffset, 10);
  await log.deleteBefore(log.nextOffset);
  assert.equal(log.logStartOffset, 40);
  assert.equal(log.sizeBytes, 0);
  assert.equal((await log.appendRecords([rec(0)])).baseOffset, 40);
});

test('group commit: concurrent durable appends share fsyncs and all resolve in order', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open(memOpts(fs, { segmentBytesMax: 1e9 }));
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => log.appendRecords([rec(i)])));
  assert.deepEqual(results.map((r) => r.baseOffset), Array.from({ length: 100 }, (_, i) => i));
  // Everything confirmed under fsync=always survives a power loss.
  const after = await FilePartitionLog.open(memOpts(fs.crash({ tail: 'torn' }), { segmentBytesMax: 1e9 }));
  assert.equal(after.nextOffset, 100);
});

test('property: after a power loss (torn or garbled tail) every append confirmed under fsync=always survives exactly once, in order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 0, max: 30 }),
      fc.constantFrom('always', 'interval', 'never'),
      fc.constantFrom('drop', 'torn', 'garbage'),
      fc.integer({ min: 150, max: 3_000 }),
      async (sizes, confirmedCount, policy, tail, segmentBytesMax) => {
        const fs = new MemoryFileSystem();
        const opts = { dir: '/p', segmentBytesMax, indexIntervalBytes: 64, fsync: policy } as const;
        const log = await FilePartitionLog.open({ fs, ...opts });
        let seq = 0;
        const k = Math.min(confirmedCount, sizes.length);
        for (let i = 0; i < k; i++) {
          await log.appendRecords(batchOf(seq, sizes[i]!));
          seq += sizes[i]!;
        }
        const confirmed = seq;
        // Unconfirmed appends in flight at the crash.
        const inflight = sizes.slice(k).map((n) => {
          const p = log.appendRecords(batchOf(seq, n), { durable: true });
          seq += n;
          return p.catch(() => undefined);
        });
        const crashed = fs.crash({ tail });
        const killed = fs.processCrash();
        await Promise.all(inflight);
        for (const [state, mustHave] of [[crashed, policy === 'always' ? confirmed : 0], [killed, confirmed]] as const) {
          const re = await FilePartitionLog.open({ fs: state, ...opts });
          const values = await allValues(re);
          assert.ok(values.length >= mustHave, `lost confirmed records: ${values.length} < ${mustHave}`);
          values.forEach((v, i) => assert.equal(v, `v${i}`));
          const r = await re.appendRecords([rec(values.length)]);
          assert.equal(r.baseOffset, values.length);
          await re.close();
        }
        await log.close();
      },
    ),
    { numRuns: 60 },
  );
});

test('start-up reads only segment tails: bytes read at open do not grow with the data', async () => {
  const fs = new MemoryFileSystem();
  const opts = memOpts(fs, { segmentBytesMax: 64 * 1024, indexIntervalBytes: 4096, fsync: 'never' });
  const log = await FilePartitionLog.open(opts);
  for (let i = 0; i < 400; i++) await log.appendRecords(Array.from({ length: 50 }, (_, k) => ({ key: null, value: Buffer.alloc(100, k), timestamp: i })));
  const total = log.sizeBytes;
  await log.close();
  let logBytesRead = 0;
  const counting: FileSystem = Object.create(fs) as FileSystem;
  counting.open = async (path, mode) => {
    const h = await fs.open(path, mode);
    if (!path.endsWith('.log')) return h;
    const read = h.read.bind(h);
    return Object.assign(Object.create(h) as typeof h, {
      read: async (t: Buffer, o: number, l: number, p: number) => {
        const n = await read(t, o, l, p);
        logBytesRead += n;
        return n;
      },
    });
  };
  const re = await FilePartitionLog.open({ ...opts, fs: counting });
  assert.equal(re.nextOffset, 400 * 50);
  assert.ok(re.segmentCount > 20);
  assert.ok(logBytesRead < total / 10, `open read ${logBytesRead} of ${total} log bytes`);
  await re.close();
});

test('segments roll by age', async () => {
  const clock = new ManualClock();
  const log = await FilePartitionLog.open(memOpts(new MemoryFileSystem(), { segmentBytesMax: 1e9, segmentAgeMsMax: 1000, clock }));
  await log.appendRecords([rec(0)]);
  clock.advance(500);
  await log.appendRecords([rec(1)]);
  assert.equal(log.segmentCount, 1);
  clock.advance(600);
  await log.appendRecords([rec(2)]);
  assert.equal(log.segmentCount, 2);
});

test('an ephemeral log never syncs, not even when its segments roll; a fsync=never log still syncs at each roll', async () => {
  for (const ephemeral of [true, false]) {
    const fs = new MemoryFileSystem();
    let syncs = 0;
    const counting: FileSystem = Object.create(fs) as FileSystem;
    counting.open = async (path, mode) => {
      const h = await fs.open(path, mode);
      const sync = h.sync.bind(h);
      h.sync = () => {
        syncs++;
        return sync();
      };
      return h;
    };
    counting.syncDir = async (dir) => {
      syncs++;
      return fs.syncDir(dir);
    };
    const log = await FilePartitionLog.open(memOpts(counting, { segmentBytesMax: 500, fsync: 'never', ephemeral }));
    const before = syncs;
    for (let i = 0; i < 50; i++) await log.appendRecords([rec(i)]);
    await log.flush();
    assert.ok(log.segmentCount > 3, 'segments rolled');
    if (ephemeral) assert.equal(syncs - before, 0);
    else assert.ok(syncs - before >= log.segmentCount - 1, `a sync per roll (${syncs - before})`);
    await log.close();
  }
});
