// Quorum queues (x-queue-type=quorum) on one node: durable classic queues that count deliveries.
// Redeliveries carry x-delivery-count; a message returned after more than x-delivery-limit deliveries
// (RabbitMQ 4's default 20) is dead-lettered with reason delivery_limit, or dropped without a DLX.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type amqp from 'amqplib';
import type { RunningServer } from '../../src/server/server.js';
import { connect, startAmqp, until } from './helpers.js';

let server: RunningServer;
before(async () => {
  server = await startAmqp();
});
after(async () => {
  await server.close();
});

/** Consumes one message at a time and nacks it with requeue until `stop` says otherwise. */
async function nackLoop(ch: amqp.Channel, queue: string, seen: Array<number | undefined>, stopAfter: number): Promise<void> {
  await ch.prefetch(1);
  await ch.consume(queue, (m) => {
    if (!m) return;
    const c = m.properties.headers?.['x-delivery-count'] as number | undefined;
    seen.push(c === undefined ? undefined : Number(c));
    assert.equal(m.fields.redelivered, seen.length > 1);
    if (seen.length < stopAfter) ch.nack(m, false, true);
    else ch.ack(m);
  });
}

test('quorum queue: x-delivery-count on redeliveries; past x-delivery-limit the message is dead-lettered (delivery_limit)', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  await ch.assertExchange('q.dlx', 'fanout', { durable: true });
  await ch.assertQueue('q.dead', { durable: true });
  await ch.bindQueue('q.dead', 'q.dlx', '');
  await ch.assertQueue('q.limited', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': 'q.dlx' } });
  ch.sendToQueue('q.limited', Buffer.from('poison'), { headers: { app: 'x' } });
  const seen: Array<number | undefined> = [];
  await nackLoop(ch, 'q.limited', seen, 100);
  const dead = await new Promise<amqp.Message>((resolve) => {
    const poll = async (): Promise<void> => {
      const m = await ch.get('q.dead', { noAck: true });
      if (m) resolve(m);
      else setTimeout(() => void poll(), 20);
    };
    void poll();
  });
  // Delivered 3 times (the limit is 2 returns), then dead-lettered on the third return.
  assert.deepEqual(seen, [undefined, 1, 2]);
  assert.equal(dead.content.toString(), 'poison');
  const xDeath = dead.properties.headers!['x-death'] as unknown as Array<Record<string, unknown>>;
  assert.equal(xDeath[0]!['reason'], 'delivery_limit');
  assert.equal(xDeath[0]!['queue'], 'q.limited');
  assert.equal(dead.properties.headers!['app'], 'x');
  assert.equal((await ch.checkQueue('q.limited')).messageCount, 0);
  await c.close();
});

test('quorum queue: the default limit is 20; -1 means none; classic queues ignore x-delivery-limit', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  await ch.assertQueue('q.default', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  ch.sendToQueue('q.default', Buffer.from('m'));
  const seen: Array<number | undefined> = [];
  await nackLoop(ch, 'q.default', seen, 100);
  await until(() => seen.length === 21, 5000, '21 deliveries');
  await until(() => server.broker.getQueue('/', 'q.default').messageCount === 0, 2000, 'dropped after 21 deliveries (no DLX)');
  assert.equal(seen[20], 20);
  await c.close();

  const c2 = await connect(server);
  const ch2 = await c2.createChannel();
  await ch2.assertQueue('q.unlimited', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': -1 } });
  await ch2.assertQueue('q.classic', { durable: true, arguments: { 'x-delivery-limit': 1 } });
  for (const q of ['q.unlimited', 'q.classic']) {
    const ch = await c2.createChannel();
    ch.sendToQueue(q, Buffer.from('m'));
    const seen: Array<number | undefined> = [];
    await nackLoop(ch, q, seen, 25);
    await until(() => seen.length === 25, 5000, `25 deliveries from ${q}`);
    // Only quorum queues carry the count.
    assert.equal(seen[24], q === 'q.classic' ? undefined : 24);
  }
  await c2.close();
});
