import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker.js';
import { BrokerError, ErrorCode } from '../lib/errors.js';
import { findField } from './message-codec.js';
import type { Message } from './message.js';
import type { Delivery, Queue } from './queues/queue.js';

const msg = (routingKey: string, body: string, props: Message['properties'] = {}): Message => ({ key: null, value: Buffer.from(body), timestamp: 0, headers: [], properties: { persistent: true, ...props }, routingKey });
const dataDir = () => join(mkdtempSync(join(tmpdir(), 'broker-')), 'data');

async function drain(q: Queue): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const d = await q.get(true);
    if (!d) return out;
    out.push(d.message.value!.toString());
  }
}

test('first start creates vhost / and guest (loopback only); definitions and durable messages survive a restart', async () => {
  const dir = dataDir();
  let b = await Broker.open({ dataDir: dir, fsync: 'always' });
  assert.deepEqual(b.listVhosts(), ['/']);
  assert.equal(b.users.authenticatePlain('guest', 'guest', true).name, 'guest');
  await b.declareExchange('/', 'events', 'topic', { durable: true });
  await b.declareQueue('/', 'orders', { durable: true });
  await b.declareQueue('/', 'temp', { durable: false });
  await b.bind('/', 'events', { kind: 'queue', name: 'orders' }, 'order.*');
  await b.bind('/', 'events', { kind: 'queue', name: 'temp' }, '#');
  const r = await b.publish('/', 'events', [msg('order.created', 'o1'), msg('user.created', 'u1'), msg('order.paid', 'o2')]);
  assert.deepEqual(r.map((x) => x.routedQueues), [2, 1, 2]);
  assert.equal((await b.publish('/', '', [msg('orders', 'direct')]))[0]!.routedQueues, 1);
  assert.equal((await b.publish('/', '', [msg('nowhere', 'x')]))[0]!.routedQueues, 0);
  await b.close();

  b = await Broker.open({ dataDir: dir });
  assert.throws(() => b.getQueue('/', 'temp'), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.NotFound);
  const q = b.getQueue('/', 'orders');
  assert.deepEqual(await drain(q), ['o1', 'o2', 'direct']);
  assert.equal((await b.publish('/', 'events', [msg('order.x', 'o3')]))[0]!.routedQueues, 1, 'binding survived');
  await b.close();
});

test('queue declare: server-named, equivalence, exclusivity, reserved names, delete if-empty', async () => {
  const b = await Broker.open({ dataDir: dataDir() });
  const gen = await b.declareQueue('/', '', { exclusiveOwner: 'conn1' });
  assert.match(gen.name, /^amq\.gen-/);
  await assert.rejects(b.declareQueue('/', gen.name, { exclusiveOwner: 'conn2' }), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.ResourceLocked);
  await b.declareQueue('/', 'q', { durable: true, arguments: { maxLength: 10 } });
  await assert.rejects(b.declareQueue('/', 'q', { durable: false }), /inequivalent arg 'durable'/);
  await assert.rejects(b.declareQueue('/', 'q', { durable: true, arguments: { maxLength: 11 } }), /inequivalent arg 'maxLength'/);
  await assert.rejects(b.declareQueue('/', 'amq.x'), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.AccessRefused);
  await b.publish('/', '', [msg('q', 'x')]);
  await assert.rejects(b.deleteQueue('/', 'q', { ifEmpty: true }), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.PreconditionFailed);
  assert.equal(await b.deleteQueue('/', 'q'), 1);
  await b.deleteExclusiveQueues('conn1');
  assert.equal(b.listQueues('/').length, 0);
  await b.close();
});

test('dead-lettering routes through the dead-letter exchange with x-death', async () => {
  const b = await Broker.open({ dataDir: dataDir() });
  await b.declareExchange('/', 'dlx', 'fanout', { durable: true });
  await b.declareQueue('/', 'dead', { durable: true });
  await b.bind('/', 'dlx', { kind: 'queue', name: 'dead' });
  const work = await b.declareQueue('/', 'work', { durable: true, arguments: { deadLetterExchange: 'dlx' } });
  await b.publish('/', '', [msg('work', 'bad')]);
  const d = (await work.get(false)) as Delivery;
  await work.nack([d.deliveryId], false);
  const dead = await b.getQueue('/', 'dead').get(true);
  assert.equal(dead?.message.value!.toString(), 'bad');
  const xd = findField(dead!.message.properties.headers, 'x-death');
  assert.ok(xd?.type === 'array' && xd.value.length === 1);
  await b.close();
});

test('health turns to stopping on shutdown; operations after close are refused', async () => {
  const b = await Broker.open({ dataDir: dataDir() });
  assert.equal(b.health().status, 'ok');
  b.beginShutdown();
  assert.equal(b.health().status, 'stopping');
  await b.close();
  await assert.rejects(b.declareQueue('/', 'x'), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.Closed);
});

test('streams: created, routed to through exchanges, readable by offset, persisted, deleted', async () => {
  const dir = dataDir();
  let b = await Broker.open({ dataDir: dir });
  const s = await b.createStream('/', 'clicks', { partitions: 2 });
  await assert.rejects(b.createStream('/', 'clicks'), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.AlreadyExists);
  await assert.rejects(b.declareQueue('/', 'clicks'), BrokerError);
  await b.bind('/', 'amq.topic', { kind: 'stream', name: 'clicks' }, 'click.#');
  const r = await b.publish('/', 'amq.topic', [{ ...msg('click.home', 'c1'), key: Buffer.from('k') }]);
  assert.equal(r[0]!.routedQueues, 1);
  const total = s.latestOffset(0) + s.latestOffset(1);
  assert.equal(total, 1);
  await b.addStreamPartitions('/', 'clicks', 4);
  await b.close();
  b = await Broker.open({ dataDir: dir });
  const again = b.getStream('/', 'clicks');
  assert.equal(again.partitionCount, 4);
  const p = again.latestOffset(0) === 1 ? 0 : 1;
  const got = await again.readMessages(p, 0, 10);
  assert.equal(got[0]!.message.value!.toString(), 'c1');
  assert.equal(got[0]!.message.routingKey, 'click.home');
  assert.equal((await b.publish('/', 'amq.topic', [msg('click.x', 'c2')]))[0]!.routedQueues, 1, 'binding to the stream survived');
  await b.deleteStream('/', 'clicks');
  assert.throws(() => b.getStream('/', 'clicks'), BrokerError);
  await b.close();
});

test('consumer-group offsets persist across a broker restart', async () => {
  const dir = dataDir();
  let b = await Broker.open({ dataDir: dir, groupInitialRebalanceDelayMs: 0 });
  assert.equal(await b.groups().commitOffsets('app', -1, '', [{ stream: 't', partition: 0, offset: 17 }]), 'none');
  await b.close();
  b = await Broker.open({ dataDir: dir });
  assert.equal(b.groups('/').fetchOffsets('app')[0]!.offset, 17);
  assert.throws(() => b.groups('nope'), BrokerError);
  await b.close();
});
