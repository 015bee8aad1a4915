// Queue delivery and settlement seen by amqplib: channels closing and consumers cancelling while a delivery
// batch is read from the log, pipelined publishes against x-max-length, transient messages across a restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type amqp from 'amqplib';
import { connect, startAmqp, tempDataDir, until } from './helpers.js';

const server = await startAmqp();
after(() => server.close());

const BIG = Buffer.alloc(100 * 1024, 0x61);

/** `n` messages of 100 KiB, one append each: nobody consumes, so delivery reads them back from the log. */
async function fill(ch: amqp.ConfirmChannel, q: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    ch.sendToQueue(q, Buffer.concat([Buffer.from(`${String(i).padStart(4, '0')}:`), BIG]));
    await ch.waitForConfirms();
  }
}
const idOf = (m: amqp.Message) => Number(m.content.subarray(0, 4).toString());

test('a channel closed while its consumer\'s batch is read from the log: every message is redelivered to another consumer', { timeout: 60_000 }, async () => {
  const c = await connect(server);
  const pub = await c.createConfirmChannel();
  const N = 40;
  for (let round = 0; round < 3; round++) {
    const q = (await pub.assertQueue('', { exclusive: true })).queue;
    await fill(pub, q, N);
    const a = await c.createChannel();
    await a.consume(q, () => undefined); // manual ack, unlimited prefetch: one batch of 40, read 2-3 at a time
    await a.close(); // while that batch is being read
    const b = await c.createChannel();
    const got = new Set<number>();
    await b.consume(q, (m) => {
      if (!m) return;
      got.add(idOf(m));
      b.ack(m);
    });
    await until(() => got.size === N, 3000).catch(() => undefined);
    assert.equal(got.size, N, `round ${round}: every message reaches the second consumer`);
    await b.close();
  }
  await c.close();
});

test('queue.declare-ok counts messages until they are delivered; an auto-ack consumer cancelled mid-read loses none', { timeout: 60_000 }, async () => {
  const c = await connect(server);
  const pub = await c.createConfirmChannel();
  const N = 40;
  for (let round = 0; round < 3; round++) {
    const q = (await pub.assertQueue('', { exclusive: true })).queue;
    await fill(pub, q, N);
    const ch = await c.createChannel();
    ch.on('error', () => undefined);
    const got = new Set<number>();
    const { consumerTag } = await ch.consume(q, (m) => m && got.add(idOf(m)), { noAck: true });
    const seen = (await ch.checkQueue(q)).messageCount;
    const gotBefore = got.size; // deliveries sent before the declare-ok arrive before it
    await ch.cancel(consumerTag);
    const left = (await ch.checkQueue(q)).messageCount;
    assert.equal(got.size + left, N, `round ${round}: received ${got.size} + left ${left} = ${N}`);
    assert.equal(seen + gotBefore, N, `round ${round}: declare-ok said ${seen} with ${gotBefore} received`);
    await ch.close();
  }
  await c.close();
});

test('x-overflow=reject-publish: 200 pipelined confirm publishes to x-max-length 1 get exactly 1 ack and 199 nacks', { timeout: 60_000 }, async () => {
  const c = await connect(server);
  for (const overflow of ['reject-publish', 'reject-publish-dlx']) {
    const ch = await c.createConfirmChannel();
    const q = (await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': overflow } })).queue;
    let acks = 0;
    let nacks = 0;
    // 16 KiB bodies: the publishes reach the broker over many socket reads, so appends overlap.
    const body = Buffer.alloc(16 * 1024);
    for (let i = 0; i < 200; i++) ch.sendToQueue(q, body, {}, (err) => (err ? nacks++ : acks++));
    await until(() => acks + nacks === 200, 10_000);
    assert.equal(acks, 1, `${overflow}: one accepted`);
    assert.equal(nacks, 199, `${overflow}: the rest refused`);
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
    await ch.close();
  }
  await c.close();
});

test('transient messages (delivery-mode 1) in a durable queue do not survive a restart; persistent ones do', { timeout: 60_000 }, async () => {
  const dataDir = tempDataDir();
  let s = await startAmqp({ dataDir, fsync: 'always' });
  let c = await connect(s);
  let ch = await c.createConfirmChannel();
  await ch.assertQueue('mixed', { durable: true });
  for (let i = 0; i < 10; i++) ch.sendToQueue('mixed', Buffer.from(`p${i}`), { persistent: true });
  for (let i = 0; i < 10; i++) ch.sendToQueue('mixed', Buffer.from(`t${i}`), { deliveryMode: 1 });
  for (let i = 10; i < 20; i++) ch.sendToQueue('mixed', Buffer.from(`p${i}`), { persistent: true });
  await ch.waitForConfirms();
  assert.equal((await ch.checkQueue('mixed')).messageCount, 30);
  await c.close();
  await s.close();
  s = await startAmqp({ dataDir });
  c = await connect(s);
  ch = await c.createConfirmChannel();
  assert.equal((await ch.checkQueue('mixed')).messageCount, 20);
  const bodies: string[] = [];
  for (let m = await ch.get('mixed', { noAck: true }); m; m = await ch.get('mixed', { noAck: true })) bodies.push(m.content.toString());
  assert.deepEqual(bodies, Array.from({ length: 20 }, (_, i) => `p${i}`));
  await c.close();
  await s.close();
});
