import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { SettlementLog } from '../../storage/queue-state/settlement-log.js';
import { ManualClock } from '../../lib/clock.js';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { findField } from '../message-codec.js';
import type { Message } from '../message.js';
import { newReadyEntry, ReadyIndex } from './ready-index.js';
import { Queue, type Delivery, type QueueArguments, type QueueConsumer, type DeadLetterSink } from './queue.js';

const msg = (body: string, props: Message['properties'] = {}): Message => ({ key: null, value: Buffer.from(body), timestamp: 0, headers: [], properties: props, exchange: 'ex', routingKey: 'rk' });
const bodies = (ds: Delivery[]) => ds.map((d) => d.message.value!.toString());
const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await tick();
  }
}

class Collector implements QueueConsumer {
  got: Delivery[] = [];
  cancelledWith: string | undefined;
  deliver(_q: Queue, _tag: string, ds: Delivery[]): void {
    this.got.push(...ds);
  }
  cancelled(_q: Queue, _tag: string, reason: string): void {
    this.cancelledWith = reason;
  }
}

async function openQueue(fs: MemoryFileSystem, args: QueueArguments = {}, extra: { clock?: ManualClock; sink?: DeadLetterSink; autoDelete?: boolean; onUnused?: () => void } = {}) {
  const log = await FilePartitionLog.open({ fs, dir: '/q/log', fsync: 'always', segmentBytesMax: 4096 });
  const state = await SettlementLog.open(fs, '/q/state', { fsync: 'always' });
  return Queue.open({ vhost: '/', name: 'q', log, state, arguments: args, clock: extra.clock, deadLetterSink: extra.sink, autoDelete: extra.autoDelete, onUnused: extra.onUnused });
}

test('ReadyIndex: property against an array model (priorities, requeue to original position)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.record({ t: fc.constant('push' as const), p: fc.nat(3) }), fc.record({ t: fc.constant('shift' as const) }), fc.record({ t: fc.constant('requeue' as const) }))), (ops) => {
      const idx = new ReadyIndex(3);
      const model: Array<{ o: number; p: number }> = [];
      const taken: Array<{ o: number; p: number }> = [];
      let next = 0;
      const e = newReadyEntry();
      for (const op of ops) {
        if (op.t === 'push') {
          idx.push(next, 10, op.p, 0);
          model.push({ o: next++, p: op.p });
        } else if (op.t === 'shift') {
          const best = model.reduce<number>((b, x, i) => (b < 0 || x.p > model[b]!.p || (x.p === model[b]!.p && x.o < model[b]!.o) ? i : b), -1);
          assert.equal(idx.shift(e), best >= 0);
          if (best >= 0) {
            assert.equal(e.offset, model[best]!.o);
            taken.push(model.splice(best, 1)[0]!);
          }
        } else if (taken.length > 0) {
          const t = taken.shift()!;
          idx.requeue(t.o, 10, t.p, 0, 1);
          model.push(t);
        }
        assert.equal(idx.length, model.length);
      }
    }),
  );
});

test('publish, consume with prefetch, ack; round robin across consumers', async () => {
  const q = await openQueue(new MemoryFileSystem());
  await q.publish(Array.from({ length: 10 }, (_, i) => msg(`m${i}`)));
  const a = new Collector();
  const b = new Collector();
  q.addConsumer('a', a, { prefetchCount: 2 });
  q.addConsumer('b', b, { prefetchCount: 2 });
  await until(() => a.got.length + b.got.length === 4);
  await tick();
  assert.equal(a.got.length, 2);
  assert.equal(b.got.length, 2);
  assert.deepEqual([...bodies(a.got), ...bodies(b.got)].sort(), ['m0', 'm1', 'm2', 'm3']);
  q.ack(a.got.map((d) => d.deliveryId));
  await until(() => a.got.length === 4);
  assert.equal(q.unackedCount, 4);
  assert.throws(() => q.ack([9999]), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.PreconditionFailed);
  await q.close();
});

test('nack with requeue returns messages to their original position, flagged redelivered', async () => {
  const q = await openQueue(new MemoryFileSystem());
  await q.publish(['a', 'b', 'c'].map((x) => msg(x)));
  const c = new Collector();
  q.addConsumer('c', c, { prefetchCount: 2 });
  await until(() => c.got.length === 2);
  await q.nack([c.got[0]!.deliveryId, c.got[1]!.deliveryId], true);
  await until(() => c.got.length === 4);
  assert.deepEqual(bodies(c.got), ['a', 'b', 'a', 'b']);
  assert.deepEqual(c.got.map((d) => d.redelivered), [false, false, true, true]);
  assert.equal(c.got[2]!.deliveryCount, 2);
  await q.close();
});

test('priorities: the highest level first', async () => {
  const q = await openQueue(new MemoryFileSystem(), { maxPriority: 5 });
  await q.publish([msg('low', { priority: 1 }), msg('high', { priority: 9 }), msg('mid', { priority: 3 }), msg('none')]);
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push((await q.get(true))!.message.value!.toString());
  assert.deepEqual(got, ['high', 'mid', 'low', 'none']);
  await q.close();
});

test('TTL at the head dead-letters with x-death; max-length drop-head and reject-publish', async () => {
  const clock = new ManualClock();
  const dead: Array<{ m: Message; dlx: string }> = [];
  const sink: DeadLetterSink = { deadLetter: async (_q, ms, dlx) => void dead.push(...ms.map((m) => ({ m, dlx }))) };
  const q = await openQueue(new MemoryFileSystem(), { messageTtlMs: 1000, deadLetterExchange: 'dlx' }, { clock, sink });
  await q.publish([msg('old'), msg('short', { expirationMs: 10 })]);
  clock.advance(500);
  await q.publish([msg('new')]);
  clock.advance(600);
  assert.equal(await q.expireHead(), 2);
  assert.deepEqual(dead.map((d) => d.m.value!.toString()), ['old', 'short']);
  const xdeath = findField(dead[0]!.m.properties.headers, 'x-death');
  assert.ok(xdeath && xdeath.type === 'array');
  assert.equal(q.messageCount, 1);
  await q.close();

  const fs2 = new MemoryFileSystem();
  const drop = await openQueue(fs2, { maxLength: 2 });
  await drop.publish(['1', '2', '3', '4'].map((x) => msg(x)));
  assert.equal(drop.messageCount, 2);
  assert.equal((await drop.get(true))!.message.value!.toString(), '3');
  await drop.close();

  const rej = await openQueue(new MemoryFileSystem(), { maxLength: 2, overflow: 'reject-publish' });
  const out = await rej.publish(['1', '2', '3'].map((x) => msg(x)));
  assert.deepEqual(out.map((o) => o.ok), [true, true, false]);
  assert.ok(!out[2]!.ok && out[2]!.error.code === ErrorCode.Overflow);
  await rej.close();
});

test('reject without requeue dead-letters with reason rejected', async () => {
  const dead: Message[] = [];
  const q = await openQueue(new MemoryFileSystem(), { deadLetterExchange: 'dlx', deadLetterRoutingKey: 'dead' }, { sink: { deadLetter: async (_q, ms) => void dead.push(...ms) } });
  await q.publish([msg('x')]);
  const d = (await q.get(false))!;
  await q.nack([d.deliveryId], false);
  assert.equal(dead.length, 1);
  const entry = findField(dead[0]!.properties.headers, 'x-death');
  assert.ok(entry?.type === 'array' && entry.value[0]?.type === 'table');
  assert.equal(q.messageCount, 0);
  await q.close();
});

test('single active consumer; cancel requeues; auto-delete fires after the last consumer', async () => {
  let unused = 0;
  const q = await openQueue(new MemoryFileSystem(), { singleActiveConsumer: true }, { autoDelete: true, onUnused: () => unused++ });
  const a = new Collector();
  const b = new Collector();
  q.addConsumer('a', a, { prefetchCount: 1 });
  q.addConsumer('b', b, { prefetchCount: 1 });
  await q.publish(['1', '2'].map((x) => msg(x)));
  await until(() => a.got.length === 1);
  await tick();
  assert.equal(b.got.length, 0);
  q.removeConsumer('a');
  await until(() => b.got.length === 1);
  assert.equal(b.got[0]!.message.value!.toString(), '1');
  assert.equal(b.got[0]!.redelivered, true);
  q.removeConsumer('b');
  assert.equal(unused, 1);
  await q.close();
});

test('restart: exactly the unacked come back flagged redelivered, never an acked one', async () => {
  const fs = new MemoryFileSystem();
  let q = await openQueue(fs);
  await q.publish(Array.from({ length: 6 }, (_, i) => msg(`m${i}`)));
  const c = new Collector();
  q.addConsumer('c', c, { prefetchCount: 4 });
  await until(() => c.got.length === 4);
  q.ack([c.got[0]!.deliveryId, c.got[2]!.deliveryId]);
  await q.close();
  q = await openQueue(fs.processCrash());
  const d = new Collector();
  q.addConsumer('d', d, {});
  await until(() => d.got.length === 4);
  assert.deepEqual(bodies(d.got), ['m1', 'm3', 'm4', 'm5']);
  assert.deepEqual(d.got.map((x) => x.redelivered), [true, true, false, false]);
  await q.close();
});

test('delete cancels consumers', async () => {
  const q = await openQueue(new MemoryFileSystem());
  const c = new Collector();
  q.addConsumer('c', c);
  assert.equal(await q.delete(), 0);
  assert.equal(c.cancelledWith, 'queue deleted');
  await assert.rejects(q.publish([msg('x')]), BrokerError);
});

test('max-length-bytes drops the oldest; x-expires reports an unused queue', async () => {
  const q = await openQueue(new MemoryFileSystem(), { maxLengthBytes: 10 });
  await q.publish(['aaaa', 'bbbb', 'cccc'].map((x) => msg(x)));
  assert.equal(q.messageCount, 2);
  assert.equal(q.messageBytes, 8);
  await q.close();
  let expired = 0;
  const e = await openQueue(new MemoryFileSystem(), { expiresMs: 30 }, { onUnused: () => expired++ });
  await until(() => expired === 1);
  await e.close();
});

test('reject-publish-dlx dead-letters the refused publishes', async () => {
  const dead: Message[] = [];
  const q = await openQueue(new MemoryFileSystem(), { maxLength: 1, overflow: 'reject-publish-dlx', deadLetterExchange: 'dlx' }, { sink: { deadLetter: async (_q, ms) => void dead.push(...ms) } });
  const out = await q.publish(['keep', 'over'].map((x) => msg(x)));
  assert.deepEqual(out.map((o) => o.ok), [true, false]);
  assert.deepEqual(dead.map((m) => m.value!.toString()), ['over']);
  await q.close();
});

test('an exclusive consumer locks the queue for others', async () => {
  const q = await openQueue(new MemoryFileSystem());
  q.addConsumer('x', new Collector(), { exclusive: true });
  assert.throws(() => q.addConsumer('y', new Collector()), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.ResourceLocked);
  assert.throws(() => q.addConsumer('x', new Collector()), BrokerError);
  q.removeConsumer('x');
  q.addConsumer('y', new Collector());
  assert.throws(() => q.addConsumer('z', new Collector(), { exclusive: true }), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.ResourceLocked);
  await q.close();
});

test('a transient queue delivers publishes before their appends complete, with the offsets the log assigns', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/t/log', fsync: 'never', segmentBytesMax: 4096 });
  const state = await SettlementLog.open(fs, '/t/state', { fsync: 'never' });
  const q = await Queue.open({ vhost: '/', name: 't', log, state, durable: false });
  const c = new Collector();
  q.addConsumer('c', c, { prefetchCount: 0, noAck: false });
  // Several appends in flight at once; a requeue while the appends may still be running reads back from the log.
  const outs = await Promise.all([0, 1, 2].map((b) => q.publish(Array.from({ length: 50 }, (_, i) => msg(`b${b}-${i}`)), { durable: false })));
  assert.deepEqual(outs.flat().map((o) => (o.ok ? o.offset : -1)), Array.from({ length: 150 }, (_, i) => i));
  await until(() => c.got.length === 150);
  assert.deepEqual(c.got.map((d) => d.offset), Array.from({ length: 150 }, (_, i) => i));
  assert.deepEqual(bodies(c.got).slice(48, 52), ['b0-48', 'b0-49', 'b1-0', 'b1-1']);
  await q.nack([c.got[0]!.deliveryId, c.got[149]!.deliveryId], true);
  await until(() => c.got.length === 152);
  assert.deepEqual(bodies(c.got.slice(150)), ['b0-0', 'b2-49']);
  assert.ok(c.got.slice(150).every((d) => d.redelivered));
  const stored = await log.readRecords(0, 1000, 1 << 20);
  assert.equal(stored.length, 150);
  // Later publishes continue at the log's next offset.
  const more = await q.publish([msg('later')], { durable: false });
  assert.ok(more[0]!.ok && more[0]!.offset === 150);
  await q.close();
});

test('a read failure while delivering gives the batch back: consumer and shared credit are released, the messages stay ready and are delivered later', async () => {
  const { CreditGroup } = await import('./credit-group.js');
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/r/log', fsync: 'always' });
  const state = await SettlementLog.open(fs, '/r/state', { fsync: 'always' });
  const q = await Queue.open({ vhost: '/', name: 'r', log, state });
  await q.publish([msg('1'), msg('2'), msg('3')]);
  const orig = log.readRecords.bind(log);
  let fail = true;
  (log as unknown as { readRecords: typeof log.readRecords }).readRecords = async (...a) => {
    if (fail) {
      fail = false;
      throw new Error('EIO');
    }
    return orig(...a);
  };
  const group = new CreditGroup(3);
  const c = new Collector();
  q.addConsumer('c', c, { credit: group });
  await until(() => c.got.length === 3, 4000);
  assert.deepEqual(bodies(c.got), ['1', '2', '3']);
  assert.equal(group.unacked, 3);
  assert.equal(q.unackedCount, 3);
});

test('early delivery on a transient queue: a large publish refused by the log does not shift the offsets of the publishes around it', async () => {
  const fs = new MemoryFileSystem();
  const log = await FilePartitionLog.open({ fs, dir: '/t/log', fsync: 'never', ephemeral: true, appendBytesMax: 2 * 1024 * 1024 });
  const state = await SettlementLog.open(fs, '/t/state', { fsync: 'never' });
  const q = await Queue.open({ vhost: '/', name: 't', log, state, durable: false });
  const c = new Collector();
  q.addConsumer('c', c, { prefetchCount: 0, noAck: false });
  const p1 = q.publish([msg('a')], { durable: false });
  const p2 = q.publish([msg('x'.repeat(3 * 1024 * 1024))], { durable: false }); // over the log's append limit
  const p3 = q.publish([msg('c')], { durable: false });
  const [r1, r2, r3] = await Promise.allSettled([p1, p2, p3]);
  assert.equal(r2.status, 'rejected');
  assert.ok(r1.status === 'fulfilled' && r1.value[0]!.ok && r1.value[0].offset === 0);
  assert.ok(r3.status === 'fulfilled' && r3.value[0]!.ok && r3.value[0].offset === 1, 'the publish after the refused one gets the offset the log gave it');
  await until(() => c.got.length === 2);
  assert.deepEqual(c.got.map((d) => `${d.offset}:${d.message.value!.toString()}`), ['0:a', '1:c']);
  const stored = await log.readRecords(0, 10, 1 << 20);
  assert.deepEqual(stored.map((r) => r.offset), [0, 1]);
});
