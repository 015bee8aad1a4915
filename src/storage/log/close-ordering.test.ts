// Closes are ordered after in-flight I/O (issue 9 item 13): a read racing retention's segment deletion, or a
// log's close, finishes on the data it found or gets OffsetOutOfRange, never a raw EBADF; a settlement log
// closed or destroyed while its writes are pending never writes to a closed journal. On the real disk,
// where a closed descriptor fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { NodeFileSystem } from '../fs/node-fs.js';
import { FilePartitionLog } from './partition-log.js';
import { SettlementLog } from '../queue-state/settlement-log.js';
import { BrokerError, ErrorCode, StorageError } from '../../lib/errors.js';
import { ManualClock } from '../../lib/clock.js';
import { configureLogger } from '../../lib/logger.js';

const tempDir = (p: string) => join(mkdtempSync(join(tmpdir(), p)), 'x');

test('reads racing retention deleting their segment never fail with EBADF: each returns its data or OffsetOutOfRange', async () => {
  const fs = new NodeFileSystem();
  const clock = new ManualClock(1_000_000);
  const log = await FilePartitionLog.open({ fs, dir: tempDir('ret-'), fsync: 'never', segmentBytesMax: 4_096, retentionBytes: 0, clock });
  const value = Buffer.alloc(1_000, 7);
  const unexpected: unknown[] = [];
  let served = 0;
  let outOfRange = 0;
  for (let round = 0; round < 25; round++) {
    for (let i = 0; i < 20; i++) await log.appendRecords([{ key: null, value, timestamp: clock.nowMs() }]);
    const from = log.logStartOffset;
    const reads: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      reads.push(
        log.read(from + i, 64 * 1024, 'durable').then(
          (r) => void (r.data.length > 0 && served++),
          (e: unknown) => {
            if (e instanceof BrokerError && e.code === ErrorCode.OffsetOutOfRange) outOfRange++;
            else unexpected.push(e);
          },
        ),
      );
    }
    const removed = log.enforceRetention();
    await Promise.all([...reads, removed]);
  }
  assert.deepEqual(unexpected.map((e) => (e as Error).message), []);
  assert.ok(served + outOfRange === 250);
  await log.close();
});

test('a log closed while reads are in flight lets them finish; later reads get CLOSED, not EBADF', async () => {
  const fs = new NodeFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: tempDir('cls-'), fsync: 'never', segmentBytesMax: 4_096 });
  for (let i = 0; i < 50; i++) await log.appendRecords([{ key: null, value: Buffer.alloc(500, i), timestamp: 1 }]);
  const reads = Array.from({ length: 50 }, (_, i) => log.read(i, 64 * 1024, 'durable'));
  const closed = log.close();
  const results = await Promise.allSettled(reads);
  await closed;
  for (const r of results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String((r.reason as Error).message) : '');
  await assert.rejects(log.read(0, 100), (e: unknown) => e instanceof StorageError && e.kind === 'CLOSED');
});

test('a settlement log destroyed or closed while settlements are pending writes nothing to its closed journal (no EBADF logged or raised)', async () => {
  const lines: string[] = [];
  configureLogger(
    'warn',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  try {
    const fs = new NodeFileSystem();
    // Destroyed in the same turn as the acks (a queue deleted while its consumers ack).
    for (let round = 0; round < 20; round++) {
      const s = await SettlementLog.open(fs, tempDir('set-'), { fsync: 'always' });
      for (let i = 0; i < 100; i++) s.settle(round * 1000 + i * 2);
      if (round % 2 === 0) void s.flush().catch((e: Error) => lines.push(e.message));
      await s.destroy();
      s.settle(5);
      await s.flush();
    }
    // Closed with settlements arriving during and after the close.
    const dir = tempDir('set-');
    const s = await SettlementLog.open(fs, dir, { fsync: 'always' });
    for (let i = 0; i < 100; i++) s.settle(i);
    const closing = s.close();
    s.settle(200);
    await closing;
    s.settle(300);
    await s.flush();
    await new Promise((r) => setImmediate(r));
    const again = await SettlementLog.open(fs, dir, { fsync: 'always' });
    assert.equal(again.lowWatermark, 100, 'what was settled before close is persisted');
    await again.close();
  } finally {
    configureLogger('silent');
  }
  assert.deepEqual(lines.filter((l) => /EBADF|closed|failed/i.test(l)), []);
});
