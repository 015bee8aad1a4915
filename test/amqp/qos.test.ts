// basic.qos as RabbitMQ 3.x defines it: global=false limits each consumer created afterwards, global=true
// sets one limit shared by all of the channel's consumers (on any queue); both may apply.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type amqp from 'amqplib';
import type { RunningServer } from '../../src/server/server.js';
import { connect, sleep, startAmqp, until } from './helpers.js';

let server: RunningServer;
before(async () => {
  server = await startAmqp();
});
after(async () => {
  await server.close();
});

async function fill(ch: amqp.Channel, queue: string, n: number): Promise<void> {
  await ch.assertQueue(queue);
  for (let i = 0; i < n; i++) ch.sendToQueue(queue, Buffer.from(`${queue}-${i}`));
  await until(() => server.broker.getQueue('/', queue).messageCount === n, 3000, `${n} messages in ${queue}`);
}

test('global qos: one limit across the channel consumers of two queues; acks and a raised limit let more through', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  await fill(ch, 'qos-a', 10);
  await fill(ch, 'qos-b', 10);
  await ch.prefetch(3, true);
  const got: amqp.Message[] = [];
  await ch.consume('qos-a', (m) => m && got.push(m));
  await ch.consume('qos-b', (m) => m && got.push(m));
  await until(() => got.length === 3, 3000, '3 deliveries');
  await sleep(150);
  assert.equal(got.length, 3, 'no more than the shared limit across both queues');
  ch.ack(got[0]!);
  await until(() => got.length === 4, 3000, 'one more after an ack');
  await sleep(150);
  assert.equal(got.length, 4);
  await ch.prefetch(6, true); // raising the shared limit lets the waiting queues deliver
  await until(() => got.length === 7, 3000, '7 deliveries');
  await sleep(150);
  assert.equal(got.length, 7);
  // Which queue gets freed credit first is not specified (nor is it in RabbitMQ); together they hold the 6
  // deliveries not acked.
  assert.equal(server.broker.getQueue('/', 'qos-a').unackedCount + server.broker.getQueue('/', 'qos-b').unackedCount, 6);
  await c.close();
});

test('global and per-consumer qos together: the tighter one holds; a cancelled consumer keeps its unacked deliveries counted', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  await fill(ch, 'qos-c', 20);
  await fill(ch, 'qos-d', 20);
  await ch.prefetch(2, false); // each consumer: 2
  await ch.prefetch(5, true); // all of them: 5
  const byQueue = new Map<string, amqp.Message[]>();
  const on = (m: amqp.ConsumeMessage | null) => {
    if (!m) return;
    const list = byQueue.get(m.fields.routingKey) ?? [];
    list.push(m);
    byQueue.set(m.fields.routingKey, list);
  };
  const first = await ch.consume('qos-c', on);
  await ch.consume('qos-c', on);
  await ch.consume('qos-d', on);
  const total = () => [...byQueue.values()].reduce((n, l) => n + l.length, 0);
  await until(() => total() === 5, 3000, '5 deliveries');
  await sleep(150);
  assert.equal(total(), 5, 'global 5 across three consumers whose own limits add up to 6');
  // Cancelling a consumer leaves its deliveries unacked, and they still count against the channel.
  await ch.cancel(first.consumerTag);
  await sleep(150);
  assert.equal(total(), 5);
  for (const m of byQueue.get('qos-c') ?? []) ch.ack(m);
  await until(() => total() > 5, 3000, 'deliveries after the acks');
  await c.close();
});
