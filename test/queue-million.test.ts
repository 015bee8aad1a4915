// 1,000,000 ready messages in one queue, consumed with acks; a restart in the middle redelivers exactly
// the unacked ones (flagged redelivered) and never an acked one. Reports time and peak RSS of the backlog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../src/storage/fs/node-fs.js';
import { FilePartitionLog } from '../src/storage/log/partition-log.js';
import { SettlementLog } from '../src/storage/queue-state/settlement-log.js';
import { Queue, type Delivery, type QueueConsumer } from '../src/core/queues/queue.js';
import type { Message } from '../src/core/message.js';

const N = 1_000_000;
const BATCH = 1000;
const PREFETCH = 1000;

async function open(dir: string): Promise<Queue> {
  const fs = new NodeFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: join(dir, 'log'), fsync: 'never', segmentBytesMax: 16 * 1024 * 1024 });
  const state = await SettlementLog.open(fs, join(dir, 'state'), { fsync: 'never' });
  return Queue.open({ vhost: '/', name: 'million', log, state });
}

test('1,000,000-message queue: consume with acks, restart in the middle, nothing lost or duplicated', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'million-'));
  const t0 = Date.now();
  let q = await open(dir);
  const body = Buffer.alloc(100, 0x61);
  const batch: Message[] = Array.from({ length: BATCH }, () => ({ key: null, value: body, timestamp: Date.now(), headers: [], properties: {} }));
  for (let i = 0; i < N / BATCH; i++) await q.publish(batch, { durable: false });
  assert.equal(q.messageCount, N);
  if (global.gc) global.gc();
  const backlogRss = process.memoryUsage().rss;
  const tPublished = Date.now();

  // Phase 1: ack until half are acked, then stop acking; the last prefetch window stays unacked.
  const acked = new Uint8Array(N);
  const deliveredUnacked = new Uint8Array(N);
  let ackedCount = 0;
  let phase1Deliveries = 0;
  const c1: QueueConsumer = {
    deliver(queue: Queue, _tag: string, ds: Delivery[]) {
      phase1Deliveries += ds.length;
      const ids: number[] = [];
      for (const d of ds) {
        assert.equal(d.redelivered, false);
        if (ackedCount < N / 2) {
          acked[d.offset] = 1;
          ackedCount++;
          ids.push(d.deliveryId);
        } else deliveredUnacked[d.offset] = 1;
      }
      queue.ack(ids);
    },
    cancelled() {},
  };
  q.addConsumer('c1', c1, { prefetchCount: PREFETCH });
  while (ackedCount < N / 2 || q.unackedCount < PREFETCH) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  const unackedBefore = q.unackedCount;
  assert.equal(unackedBefore, PREFETCH);
  await q.close();
  const tRestart = Date.now();

  // Phase 2: reopen; every unsettled message comes back; the delivered-unacked ones flagged redelivered.
  q = await open(dir);
  assert.equal(q.messageCount, N - ackedCount);
  let seen = 0;
  let redelivered = 0;
  const c2: QueueConsumer = {
    deliver(queue: Queue, _tag: string, ds: Delivery[]) {
      for (const d of ds) {
        assert.equal(acked[d.offset], 0, `acked message ${d.offset} delivered again`);
        assert.equal(d.redelivered, deliveredUnacked[d.offset] === 1, `redelivered flag of ${d.offset}`);
        if (d.redelivered) redelivered++;
        acked[d.offset] = 1;
        seen++;
      }
      queue.ack(ds.map((d) => d.deliveryId));
    },
    cancelled() {},
  };
  q.addConsumer('c2', c2, { prefetchCount: PREFETCH });
  while (seen < N - ackedCount) await new Promise((r) => setTimeout(r, 10));
  assert.equal(redelivered, unackedBefore);
  assert.equal(acked.reduce((a, b) => a + b, 0), N);
  const segmentsFreed = await q.trimLog();
  await q.close();
  const tDone = Date.now();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `# queue-million: publish ${N} in ${tPublished - t0} ms; backlog RSS ${(backlogRss / 1e6).toFixed(0)} MB; ` +
      `phase 1 (${phase1Deliveries} deliveries) ${tRestart - tPublished} ms; phase 2 (reopen + ${seen}) ${tDone - tRestart} ms; segments freed at end ${segmentsFreed}`,
  );
});
