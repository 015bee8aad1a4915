// Disk faults under a queue: its settlement journal failing (EIO) while consumers ack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { SettlementLog } from '../../storage/queue-state/settlement-log.js';
import { configureLogger } from '../../lib/logger.js';
import type { Message } from '../message.js';
import { Queue, type Delivery, type QueueConsumer } from './queue.js';

const msg = (i: number): Message => ({ key: null, value: Buffer.from(`m${i}`), timestamp: 0, headers: [], properties: {}, exchange: 'ex', routingKey: 'rk' });
const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await tick();
  }
}

class Collector implements QueueConsumer {
  got: Delivery[] = [];
  deliver(_q: Queue, _tag: string, ds: Delivery[]): void {
    this.got.push(...ds);
  }
  cancelled(): void {}
}

async function open(fs: MemoryFileSystem) {
  const log = await FilePartitionLog.open({ fs, dir: '/q/log', fsync: 'always', segmentBytesMax: 16 * 1024 });
  const state = await SettlementLog.open(fs, '/q/state', { fsync: 'always' });
  const queue = await Queue.open({ vhost: '/', name: 'q', log, state });
  return { log, state, queue };
}

test('EIO on the settlement journal while acking: the process survives, the queue reports it, nothing acknowledged is lost', async () => {
  const lines: Array<Record<string, unknown>> = [];
  configureLogger(
    'warn',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
  try {
    const fs = new MemoryFileSystem();
    const { log, state, queue } = await open(fs);
    const total = 12_000;
    for (let i = 0; i < total; i += 1000) await queue.publish(Array.from({ length: 1000 }, (_, k) => msg(i + k)));
    const c = new Collector();
    queue.addConsumer('c', c, { prefetchCount: 0 });
    await until(() => c.got.length === total);
    // Every settlement journal write fails from now on; 11,000 acks pass the point where the queue trims its
    // log (a background flush of the settlements, then a segment deletion).
    fs.failNext('append', 'EIO', Number.MAX_SAFE_INTEGER, 'settlement.journal');
    queue.ack(c.got.slice(0, 11_000).map((d) => d.deliveryId));
    await until(() => state.failed !== undefined && lines.some((l) => l['queue'] === 'q' && l['msg'] === 'log trim failed; segments kept until the next trim'));
    assert.equal(state.failed!.kind, 'EIO');
    assert.equal(log.logStartOffset, 0, 'no segment is deleted on the word of settlements not written');
    assert.ok(lines.some((l) => l['msg'] === 'settlement journal write failed; settlements stay buffered and are retried' && l['kind'] === 'EIO'));
    // Publishing goes on (the log is fine) and is confirmed.
    const out = await queue.publish([msg(total), msg(total + 1)]);
    assert.deepEqual(out.map((o) => o.ok), [true, true]);

    // The fault clears: the buffered settlements are written by the next flush (or the retry timer).
    fs.clearFailures();
    await state.flush();
    assert.equal(state.failed, undefined);
    assert.ok(lines.some((l) => l['msg'] === 'settlement journal writes work again'));
    assert.ok((await queue.trimLog()) > 0, 'the trim now frees the settled segments');

    // Power loss: every ack made before is still settled, every confirmed message not acked is still there.
    const after = await open(fs.crash());
    assert.equal(after.queue.messageCount, total - 11_000 + 2);
    const c2 = new Collector();
    after.queue.addConsumer('c', c2, { prefetchCount: 0 });
    await until(() => c2.got.length === total - 11_000 + 2);
    assert.deepEqual(
      c2.got.map((d) => d.message.value!.toString()),
      Array.from({ length: total - 11_000 + 2 }, (_, i) => `m${11_000 + i}`),
    );
    await after.queue.close();
    await queue.close();
  } finally {
    configureLogger('warn');
  }
});

test('a settlement write that fails is retried without a flush: it lands once the fault clears', async () => {
  const fs = new MemoryFileSystem();
  const state = await SettlementLog.open(fs, '/s', { fsync: 'always' });
  fs.failNext('sync', 'EIO', 1, 'settlement.journal');
  state.settleRange(0, 10);
  await until(() => state.failed !== undefined);
  // No flush is called: the retry timer writes the settlements.
  await until(() => state.failed === undefined, 5000);
  const reopened = await SettlementLog.open(fs.crash(), '/s', { fsync: 'always' });
  assert.equal(reopened.lowWatermark, 10);
  await reopened.close();
  await state.close();
});
