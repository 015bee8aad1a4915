// Queue delivery racing consumer removal, pipelined publishes against length limits, and crashes: the batch
// being read from the log, the counts clients see, and what comes back after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { SettlementLog } from '../../storage/queue-state/settlement-log.js';
import type { Message } from '../message.js';
import { Queue, type Delivery, type QueueArguments, type QueueConsumer } from './queue.js';
import { RESERVE_CHUNK } from './delivery-reservation.js';

const BIG = 100 * 1024; // two of these fill most of one delivery read (256 KiB)
const msg = (i: number, size = 8, props: Message['properties'] = {}): Message => ({ key: null, value: Buffer.alloc(size, i % 256), timestamp: 0, headers: [], properties: props });
const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
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

/** A queue whose log reads can be held: reads after the first `free` wait until release(). */
async function openGated(fs: MemoryFileSystem, args: QueueArguments = {}) {
  const log = await FilePartitionLog.open({ fs, dir: '/q/log', fsync: 'always', segmentBytesMax: 1024 * 1024 });
  const state = await SettlementLog.open(fs, '/q/state', { fsync: 'always' });
  const q = await Queue.open({ vhost: '/', name: 'q', log, state, arguments: args });
  const read = log.readRecords.bind(log);
  let free = Infinity;
  let held = 0;
  let open: () => void = () => undefined;
  let gate = Promise.resolve();
  log.readRecords = async (offset: number, max: number, bytes?: number) => {
    if (free-- <= 0) {
      held++;
      await gate;
    }
    return read(offset, max, bytes);
  };
  return {
    q,
    /** Reads after the next `n` wait until release(). */
    hold(n: number) {
      free = n;
      held = 0;
      gate = new Promise((r) => (open = r));
    },
    get held() {
      return held;
    },
    release() {
      free = Infinity;
      open();
    },
  };
}

for (const requeueUnacked of [false, true]) {
  test(`a consumer removed while its batch is read from the log (requeueUnacked=${requeueUnacked}): the whole batch goes back to ready, in order, for the next consumer`, async () => {
    const g = await openGated(new MemoryFileSystem());
    // No consumer at publish: the bodies are not kept in memory, delivery reads them back from the log.
    for (let i = 0; i < 6; i++) await g.q.publish([msg(i, BIG)]); // one batch each: a read takes two or three
    g.hold(1); // the first read (two bodies) passes, the second waits: the batch is half read
    const a = new Collector();
    g.q.addConsumer('a', a, { prefetchCount: 0 });
    await until(() => g.held > 0);
    const countWhileRead = g.q.messageCount;
    g.q.removeConsumer('a', { requeueUnacked }); // basic.cancel (false) or the channel closing (cancel, then its own requeue)
    g.release();
    await until(() => g.q.messageCount === 6 && g.q.unackedCount === 0).catch(() => undefined);
    assert.equal(a.got.length, 0, 'nothing is delivered to a removed consumer');
    assert.equal(g.q.unackedCount, 0, 'nothing is left in flight without a consumer');
    assert.equal(g.q.messageCount, 6);
    const b = new Collector();
    g.q.addConsumer('b', b, { prefetchCount: 0 });
    await until(() => b.got.length === 6);
    assert.deepEqual(b.got.map((d) => d.offset), [0, 1, 2, 3, 4, 5]);
    assert.ok(b.got.every((d) => !d.redelivered), 'never delivered, so not redelivered');
    assert.equal(countWhileRead, 6, 'messages being read for delivery still count as ready');
  });
}

test('an auto-ack consumer cancelled while its batch is read: no message is lost, the count never dropped', async () => {
  const g = await openGated(new MemoryFileSystem());
  for (let i = 0; i < 6; i++) await g.q.publish([msg(i, BIG)]);
  g.hold(1);
  const a = new Collector();
  g.q.addConsumer('a', a, { noAck: true });
  await until(() => g.held > 0);
  const countWhileRead = g.q.messageCount;
  g.q.removeConsumer('a', { requeueUnacked: false });
  g.release();
  await until(() => g.q.messageCount === 6).catch(() => undefined);
  assert.equal(a.got.length, 0);
  assert.equal(g.q.messageCount, 6, 'every message is still in the queue');
  assert.equal(countWhileRead, 6, 'declare-ok would have said 0 while they were being read');
});

test('basic.get whose channel closes while the body is read: the message stays in the queue, undelivered', async () => {
  const g = await openGated(new MemoryFileSystem());
  await g.q.publish([msg(1, BIG), msg(2, BIG)]);
  g.hold(0);
  let wanted = true;
  const got = g.q.get(false, () => wanted);
  await until(() => g.held > 0);
  assert.equal(g.q.messageCount, 2, 'the message being read still counts');
  wanted = false;
  g.release();
  assert.equal(await got, undefined);
  assert.equal(g.q.unackedCount, 0);
  assert.equal(g.q.messageCount, 2);
  const d = await g.q.get(true);
  assert.equal(d?.offset, 0);
  assert.equal(d?.redelivered, false);
});

for (const overflow of ['reject-publish', 'reject-publish-dlx'] as const) {
  test(`x-overflow=${overflow}: pipelined publishes never take the queue past x-max-length or x-max-length-bytes`, async () => {
    const fs = new MemoryFileSystem();
    const g = await openGated(fs, { maxLength: 1, overflow });
    const outcomes = (await Promise.all(Array.from({ length: 20 }, (_, i) => g.q.publish([msg(i)])))).flat();
    assert.equal(outcomes.filter((o) => o.ok).length, 1, 'exactly one accepted');
    assert.equal(g.q.messageCount, 1);
    const h = await openGated(new MemoryFileSystem(), { maxLengthBytes: 100, overflow });
    const byBytes = (await Promise.all(Array.from({ length: 20 }, (_, i) => h.q.publish([msg(i, 30)])))).flat();
    assert.equal(byBytes.filter((o) => o.ok).length, 3, '3 × 30 bytes fit in 100');
    assert.equal(h.q.messageBytes, 90);
  });
}

test('x-overflow=drop-head: pipelined publishes end with the newest x-max-length messages', async () => {
  const g = await openGated(new MemoryFileSystem(), { maxLength: 2 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => g.q.publish([msg(i)])));
  assert.equal(g.q.messageCount, 2);
  const a = new Collector();
  g.q.addConsumer('a', a, { noAck: true });
  await until(() => a.got.length === 2);
  assert.deepEqual(a.got.map((d) => d.message.value![0]), [8, 9]);
});

test('a durable queue drops transient (persistent=false) messages at restart; persistent and unmarked ones stay', async () => {
  const fs = new MemoryFileSystem();
  const open = async (quorum: boolean) => {
    const log = await FilePartitionLog.open({ fs, dir: `/${quorum}/log`, fsync: 'always' });
    const state = await SettlementLog.open(fs, `/${quorum}/state`, { fsync: 'always' });
    return Queue.open({ vhost: '/', name: 'q', log, state, durable: true, arguments: quorum ? { deliveryCountHeader: true, deliveryLimit: 20 } : {} });
  };
  for (const quorum of [false, true]) {
    let q = await open(quorum);
    await q.publish([msg(0, 8, { persistent: true }), msg(1, 8, { persistent: false, priority: 3, contentType: 'x' }), msg(2, 8), msg(3, 8, { persistent: false })]);
    await q.close();
    q = await open(quorum);
    const c = new Collector();
    q.addConsumer('c', c, { noAck: true });
    await until(() => c.got.length === (quorum ? 4 : 2));
    await tick();
    // Quorum queues keep every message, as RabbitMQ's do.
    assert.deepEqual(c.got.map((d) => d.offset).sort(), quorum ? [0, 1, 2, 3] : [0, 2]);
    await q.close();
  }
});

for (const crash of ['process', 'power'] as const) {
  test(`after a ${crash} crash, every message delivered before it comes back flagged redelivered`, async () => {
    let fs = new MemoryFileSystem();
    const open = async () => {
      const log = await FilePartitionLog.open({ fs, dir: '/q/log', fsync: 'always' });
      const state = await SettlementLog.open(fs, '/q/state', { fsync: 'always' });
      return Queue.open({ vhost: '/', name: 'q', log, state, durable: true });
    };
    let q = await open();
    const n = RESERVE_CHUNK + 100;
    for (let i = 0; i < n; i += 1000) await q.publish(Array.from({ length: Math.min(1000, n - i) }, (_, k) => msg(i + k)));
    // The consumer takes everything; the "crash" happens the moment the last deliveries arrive.
    let snapshot: MemoryFileSystem | undefined;
    let delivered = 0;
    const c: QueueConsumer = {
      deliver: (_q, _t, ds) => {
        delivered += ds.length;
        if (delivered === n) snapshot = crash === 'process' ? fs.processCrash() : fs.crash();
      },
      cancelled: () => undefined,
    };
    q.addConsumer('c', c, { prefetchCount: 0 });
    await until(() => snapshot !== undefined, 10_000);
    await q.close();
    fs = snapshot!;
    q = await open();
    assert.equal(q.messageCount, n);
    const after = new Collector();
    q.addConsumer('c', after, { noAck: true });
    await until(() => after.got.length === n, 10_000);
    assert.equal(after.got.filter((d) => !d.redelivered).length, 0, 'no delivered message comes back unflagged');
    await q.close();
  });
}

test('a clean restart flags exactly the delivered messages; only a crash over-flags (at most one reservation chunk)', async () => {
  let fs = new MemoryFileSystem();
  const open = async () => {
    const log = await FilePartitionLog.open({ fs, dir: '/q/log', fsync: 'always' });
    const state = await SettlementLog.open(fs, '/q/state', { fsync: 'always' });
    return Queue.open({ vhost: '/', name: 'q', log, state, durable: true });
  };
  let q = await open();
  await q.publish(Array.from({ length: 100 }, (_, i) => msg(i)));
  const a = new Collector();
  q.addConsumer('a', a, { prefetchCount: 10 });
  await until(() => a.got.length === 10);
  await q.close(); // clean: 0..9 unacked
  q = await open();
  let b = new Collector();
  q.addConsumer('b', b, { prefetchCount: 0 });
  await until(() => b.got.length === 100);
  assert.deepEqual(b.got.filter((d) => d.redelivered).map((d) => d.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // A crash now: all 100 were delivered (some twice); the reservation covers them and no more than a chunk.
  const snap = fs.processCrash();
  await q.close();
  fs = snap;
  q = await open();
  b = new Collector();
  await q.publish([msg(100)]);
  q.addConsumer('b', b, { prefetchCount: 0 });
  await until(() => b.got.length === 101);
  assert.equal(b.got.filter((d) => d.redelivered).length, 100);
  assert.equal(b.got.find((d) => d.offset === 100)?.redelivered, false, 'offsets past the log end at open were never delivered');
  await q.close();
});
