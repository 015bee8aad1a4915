// Stream queues over AMQP (x-stream-offset; the same log as a Kafka topic, both ways), durability across a
// restart (acked never returns, unacked returns flagged redelivered), queue arguments, resource alarms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import kafkajs from 'kafkajs';
import { connect, sleep, startAmqp, tempDataDir } from './helpers.js';

const { Kafka, logLevel } = kafkajs;

async function collect(ch: amqp.Channel, queue: string, n: number, args: Record<string, unknown>): Promise<amqp.ConsumeMessage[]> {
  const got: amqp.ConsumeMessage[] = [];
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (!m) return;
    got.push(m);
    ch.ack(m);
  }, { arguments: args });
  for (let i = 0; i < 200 && got.length < n; i++) await sleep(20);
  await ch.cancel(consumerTag);
  return got;
}

test('stream queue: x-stream-offset first / last / next / offset / timestamp; prefetch required; acks only credit', { timeout: 30_000 }, async () => {
  const server = await startAmqp();
  const c = await connect(server);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue('events', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '7D' } });
  for (let i = 0; i < 10; i++) ch.sendToQueue('events', Buffer.from(`e${i}`));
  await ch.waitForConfirms();
  assert.equal((await ch.checkQueue('events')).messageCount, 10);
  const err = await (async () => {
    const x = await c.createChannel();
    x.on('error', () => undefined);
    return x.consume('events', () => undefined).catch((e: { code: number }) => e.code);
  })();
  assert.equal(err, 406, 'prefetch is required');
  await ch.prefetch(4);
  const first = await collect(ch, 'events', 10, { 'x-stream-offset': 'first' });
  assert.deepEqual(first.map((m) => m.content.toString()), Array.from({ length: 10 }, (_, i) => `e${i}`));
  assert.equal(Number(first[3]!.properties.headers!['x-stream-offset']), 3);
  const fromOffset = await collect(ch, 'events', 4, { 'x-stream-offset': 6 });
  assert.deepEqual(fromOffset.map((m) => m.content.toString()), ['e6', 'e7', 'e8', 'e9']);
  const last = await collect(ch, 'events', 1, { 'x-stream-offset': 'last' });
  assert.equal(last[0]!.content.toString(), 'e9');
  const byTime = await collect(ch, 'events', 10, { 'x-stream-offset': { '!': 'timestamp', value: Math.floor(Date.now() / 1000) - 60 } });
  assert.equal(byTime.length, 10);
  // next: only what arrives after subscribing.
  const live: string[] = [];
  await ch.consume('events', (m) => m && (live.push(m.content.toString()), ch.ack(m)), { arguments: { 'x-stream-offset': 'next' } });
  await sleep(50);
  ch.sendToQueue('events', Buffer.from('new'));
  await ch.waitForConfirms();
  for (let i = 0; i < 100 && live.length < 1; i++) await sleep(20);
  assert.deepEqual(live, ['new']);
  assert.equal((await ch.checkQueue('events')).messageCount, 11, 'consuming never removes');
  // Deleting the stream cancels its consumers (server-sent basic.cancel: amqplib passes null).
  const ended: Array<amqp.ConsumeMessage | null> = [];
  await ch.consume('events', (m) => ended.push(m), { arguments: { 'x-stream-offset': 'next' } });
  const other = await c.createChannel();
  await other.deleteQueue('events');
  for (let i = 0; i < 150 && !ended.includes(null); i++) await sleep(20);
  assert.ok(ended.includes(null), 'the stream consumer was cancelled by the server');
  await c.close();
  await server.close();
});

test('one log: a Kafka topic is consumable over AMQP, and AMQP publishes to a stream are read by kafkajs', { timeout: 30_000 }, async () => {
  const server = await startAmqp({ kafka: true });
  const kafka = new Kafka({ clientId: 't', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'clicks', numPartitions: 1 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'clicks', messages: [{ key: 'k1', value: 'from-kafka', headers: { src: 'kafka' } }] });
  const c = await connect(server);
  const ch = await c.createConfirmChannel();
  await ch.prefetch(10);
  const got = await collect(ch, 'clicks', 1, { 'x-stream-offset': 'first' });
  assert.equal(got[0]!.content.toString(), 'from-kafka');
  assert.equal(String(got[0]!.properties.headers!['src']), 'kafka');
  assert.equal(String(got[0]!.properties.headers!['x-kafka-key']), 'k1');
  ch.sendToQueue('clicks', Buffer.from('from-amqp'), { messageId: 'm-1' });
  await ch.waitForConfirms();
  const consumer = kafka.consumer({ groupId: 'g-amqp' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'clicks', fromBeginning: true });
  const values: string[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer.run({ eachMessage: async ({ message }) => { values.push(message.value!.toString()); if (values.length === 2) resolve(); } }).catch(reject);
  });
  assert.deepEqual(values, ['from-kafka', 'from-amqp']);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  await c.close();
  await server.close();
});

test('durability: persistent messages on a durable queue survive a restart; acked never return, unacked return redelivered', { timeout: 30_000 }, async () => {
  const dataDir = tempDataDir();
  let server = await startAmqp({ dataDir, fsync: 'always' });
  let c = await connect(server);
  let ch = await c.createConfirmChannel();
  await ch.assertExchange('orders-x', 'direct', { durable: true });
  await ch.assertQueue('orders', { durable: true, arguments: { 'x-max-priority': 5 } });
  await ch.bindQueue('orders', 'orders-x', 'new');
  for (let i = 0; i < 6; i++) ch.publish('orders-x', 'new', Buffer.from(`o${i}`), { persistent: true, priority: i % 2 });
  await ch.waitForConfirms();
  await ch.prefetch(4);
  const got: amqp.ConsumeMessage[] = [];
  await ch.consume('orders', (m) => m && got.push(m));
  for (let i = 0; i < 100 && got.length < 4; i++) await sleep(20);
  assert.deepEqual(got.map((m) => m.content.toString()), ['o1', 'o3', 'o5', 'o0'], 'priority 1 first');
  await ch.cancel(got[0]!.fields.consumerTag); // its unacked deliveries stay unacked, nothing more comes
  ch.ack(got[0]!);
  ch.ack(got[1]!);
  await ch.checkQueue('orders'); // a round trip: the acks are processed
  await c.close(); // o5, o0 unacked go back; o2, o4 never delivered
  await server.close();

  server = await startAmqp({ dataDir });
  c = await connect(server);
  ch = await c.createConfirmChannel();
  await ch.checkExchange('orders-x');
  assert.equal((await ch.checkQueue('orders')).messageCount, 4);
  const after: amqp.GetMessage[] = [];
  for (let m = await ch.get('orders'); m; m = await ch.get('orders')) after.push(m);
  const byBody = Object.fromEntries(after.map((m) => [m.content.toString(), m.fields.redelivered]));
  assert.deepEqual(byBody, { o0: true, o2: false, o4: false, o5: true });
  // The binding survived too.
  ch.publish('orders-x', 'new', Buffer.from('again'), { persistent: true });
  await sleep(50);
  assert.equal((await ch.checkQueue('orders')).messageCount, 1);
  await c.close();
  await server.close();
});

test('queue arguments: single active consumer, x-expires, auto-delete, max-length drop-head', { timeout: 30_000 }, async () => {
  const server = await startAmqp();
  const c = await connect(server);
  const ch = await c.createChannel();
  await ch.assertQueue('sac', { durable: false, arguments: { 'x-single-active-consumer': true } });
  const a: string[] = [];
  const b: string[] = [];
  const ca = await ch.consume('sac', (m) => m && a.push(m.content.toString()), { noAck: true });
  await ch.consume('sac', (m) => m && b.push(m.content.toString()), { noAck: true });
  for (let i = 0; i < 5; i++) ch.sendToQueue('sac', Buffer.from(String(i)));
  for (let i = 0; i < 100 && a.length < 5; i++) await sleep(10);
  assert.equal(a.length, 5);
  assert.equal(b.length, 0);
  await ch.cancel(ca.consumerTag);
  ch.sendToQueue('sac', Buffer.from('5'));
  for (let i = 0; i < 100 && b.length < 1; i++) await sleep(10);
  assert.deepEqual(b, ['5'], 'the next consumer takes over');
  await ch.assertQueue('short-lived', { durable: false, arguments: { 'x-expires': 100 } });
  await ch.assertQueue('ad', { durable: false, autoDelete: true });
  const t = await ch.consume('ad', () => undefined);
  await ch.cancel(t.consumerTag);
  await ch.assertQueue('capped', { durable: false, arguments: { 'x-max-length': 2 } });
  for (let i = 0; i < 5; i++) ch.sendToQueue('capped', Buffer.from(String(i)));
  await sleep(300);
  const m = (await ch.get('capped', { noAck: true })) as amqp.GetMessage;
  assert.equal(m.content.toString(), '3', 'drop-head keeps the newest');
  for (const gone of ['short-lived', 'ad']) {
    const x = await c.createChannel();
    x.on('error', () => undefined);
    assert.equal(await x.checkQueue(gone).then(() => 0, (e: { code: number }) => e.code), 404, gone);
  }
  await c.close();
  await server.close();
});

test('resource alarm: connection.blocked, publishers held until it clears; update-secret accepted', { timeout: 30_000 }, async () => {
  const server = await startAmqp();
  const c = await connect(server);
  const ch = await c.createConfirmChannel();
  const q = (await ch.assertQueue('alarmed', { durable: false })).queue;
  const events: string[] = [];
  c.on('blocked', (reason: string) => events.push(`blocked:${reason}`));
  c.on('unblocked', () => events.push('unblocked'));
  await server.resources.setLimits({ diskFreeLimitBytes: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < 50 && events.length < 1; i++) await sleep(10);
  assert.deepEqual(events, ['blocked:low on disk']);
  // As in RabbitMQ, the publish that meets the alarm is the last one read: the connection is then not read.
  ch.sendToQueue(q, Buffer.from('held'));
  await sleep(50);
  let confirmed = false;
  ch.sendToQueue(q, Buffer.from('held2'), {}, () => (confirmed = true));
  await sleep(200);
  assert.equal(confirmed, false, 'the publisher is not read while the alarm holds');
  const observer = await connect(server);
  const och = await observer.createChannel();
  assert.ok((await och.checkQueue(q)).messageCount <= 1);
  await server.resources.setLimits({ diskFreeLimitBytes: 0 });
  await ch.waitForConfirms();
  assert.ok(confirmed);
  await observer.close();
  assert.deepEqual(events, ['blocked:low on disk', 'unblocked']);
  assert.equal((await ch.checkQueue(q)).messageCount, 2);
  await (c as unknown as { updateSecret(s: Buffer, r: string): Promise<void> }).updateSecret(Buffer.from('new secret'), 'rotation');
  await c.close();
  await server.close();
});
