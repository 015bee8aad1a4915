// Queue definition changes raced against themselves (issue 9, item 2): every declare, delete, exclusive-owner
// close and auto-delete of one name is serialized, and each incarnation of a name has its own storage, so a
// deleted queue's messages never come back in a queue re-declared with its name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { connect, startAmqp, tempDataDir } from './helpers.js';

/** Declares, retrying while the broker still reports the old exclusive owner (405; RabbitMQ may too). */
async function declareAfterOwnerClosed(c: amqp.ChannelModel, name: string, opts: amqp.Options.AssertQueue): Promise<{ ch: amqp.Channel; messageCount: number }> {
  for (let i = 0; ; i++) {
    const ch = await c.createChannel();
    ch.on('error', () => undefined);
    try {
      const ok = await ch.assertQueue(name, opts);
      return { ch, messageCount: ok.messageCount };
    } catch (err) {
      if ((err as { code?: number }).code !== 405 || i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

test('an exclusive queue re-declared after its connection closed is empty (20 tries)', { timeout: 60_000 }, async () => {
  const dataDir = tempDataDir();
  let server = await startAmqp({ dataDir });
  const c2 = await connect(server);
  for (let i = 0; i < 20; i++) {
    const c1 = await connect(server);
    const ch1 = await c1.createConfirmChannel();
    await ch1.assertQueue('excl', { exclusive: true });
    for (let k = 0; k < 5; k++) ch1.sendToQueue('excl', Buffer.from(`old-${i}-${k}`));
    await ch1.waitForConfirms();
    await c1.close();
    const { ch, messageCount } = await declareAfterOwnerClosed(c2, 'excl', { exclusive: true });
    assert.equal(messageCount, 0, `try ${i}: the re-declared queue is empty`);
    assert.equal(await ch.get('excl', { noAck: true }), false, `try ${i}: nothing of the old incarnation is delivered`);
    await ch.deleteQueue('excl');
    await ch.close();
  }
  await c2.close();
  await server.close();
  server = await startAmqp({ dataDir });
  const c = await connect(server);
  const ch = await c.createChannel();
  ch.on('error', () => undefined);
  await assert.rejects(ch.checkQueue('excl'), /404/, 'exclusive queues do not survive a restart');
  await c.close();
  await server.close();
});

test('an auto-delete queue re-declared after its consumer left never returns an acked message and never fails', { timeout: 60_000 }, async () => {
  const dataDir = tempDataDir();
  let server = await startAmqp({ dataDir });
  const c = await connect(server);
  const other = await connect(server);
  for (let i = 0; i < 20; i++) {
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('auto', { autoDelete: true, durable: i % 2 === 0 });
    ch.sendToQueue('auto', Buffer.from(`acked-${i}`), { persistent: true });
    await ch.waitForConfirms();
    const got = await new Promise<amqp.ConsumeMessage>((resolve) => {
      void ch.consume('auto', (m) => m && resolve(m));
    });
    ch.ack(got);
    await ch.cancel(got.fields.consumerTag); // the last consumer left: the queue deletes itself
    // Re-declared at once, alternately on the same connection and on another one.
    const ch2 = await (i % 4 < 2 ? c : other).createChannel();
    const ok = await ch2.assertQueue('auto', { autoDelete: true, durable: i % 2 === 0 });
    assert.equal(ok.messageCount, 0, `try ${i}: the acked message is not counted`);
    const again = await ch2.get('auto', { noAck: true });
    assert.equal(again, false, `try ${i}: an acked message came back: ${again ? again.content.toString() : ''}`);
    await ch2.deleteQueue('auto');
    await ch2.close();
    await ch.close();
  }
  await other.close();
  await c.close();
  await server.close();
  server = await startAmqp({ dataDir });
  const c3 = await connect(server);
  const ch3 = await c3.createChannel();
  ch3.on('error', () => undefined);
  await assert.rejects(ch3.checkQueue('auto'), /404/);
  await c3.close();
  await server.close();
});

test('two concurrent declares of one exclusive queue from two connections: one wins, the other gets 405', { timeout: 60_000 }, async () => {
  const server = await startAmqp();
  const a = await connect(server);
  const b = await connect(server);
  for (let i = 0; i < 20; i++) {
    const name = `race-excl-${i}`;
    const [cha, chb] = await Promise.all([a.createChannel(), b.createChannel()]);
    cha.on('error', () => undefined);
    chb.on('error', () => undefined);
    const results = await Promise.allSettled([cha.assertQueue(name, { exclusive: true }), chb.assertQueue(name, { exclusive: true })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, `try ${i}: exactly one declare succeeds`);
    assert.equal((lost[0]!.reason as { code?: number }).code, 405, `try ${i}: the other is RESOURCE_LOCKED`);
    // The winner's queue is the only one: what it holds is what the owner published.
    const winner = results[0]!.status === 'fulfilled' ? a : b;
    const ch = await winner.createConfirmChannel();
    ch.sendToQueue(name, Buffer.from('x'));
    await ch.waitForConfirms();
    assert.equal((await ch.checkQueue(name)).messageCount, 1);
    await ch.deleteQueue(name);
    await ch.close();
  }
  await a.close();
  await b.close();
  await server.close();
});

test('declares and deletes of one durable queue raced from two connections leave one queue, consistent after a restart', { timeout: 60_000 }, async () => {
  const dataDir = tempDataDir();
  let server = await startAmqp({ dataDir, fsync: 'always' });
  const a = await connect(server);
  const b = await connect(server);
  const cha = await a.createConfirmChannel();
  const chb = await b.createConfirmChannel();
  cha.on('error', () => undefined);
  chb.on('error', () => undefined);
  for (let i = 0; i < 20; i++) {
    // declare vs declare: both succeed, on one queue.
    await Promise.all([cha.assertQueue('shared', { durable: true }), chb.assertQueue('shared', { durable: true })]);
    cha.sendToQueue('shared', Buffer.from(`a-${i}`), { persistent: true });
    chb.sendToQueue('shared', Buffer.from(`b-${i}`), { persistent: true });
    await Promise.all([cha.waitForConfirms(), chb.waitForConfirms()]);
    assert.equal((await cha.checkQueue('shared')).messageCount, 2, `try ${i}: both publishes reached the one queue`);
    // delete vs delete: both succeed, the queue is gone.
    await Promise.all([cha.deleteQueue('shared'), chb.deleteQueue('shared')]);
  }
  // The last incarnation: declared again and filled, while a racing delete from the other side is refused
  // by nothing and a racing declare finds it.
  await cha.assertQueue('shared', { durable: true });
  for (let k = 0; k < 10; k++) cha.sendToQueue('shared', Buffer.from(`last-${k}`), { persistent: true });
  await cha.waitForConfirms();
  await a.close();
  await b.close();
  await server.close();
  server = await startAmqp({ dataDir });
  const c = await connect(server);
  const ch = await c.createChannel();
  const bodies: string[] = [];
  for (let m = await ch.get('shared', { noAck: true }); m; m = await ch.get('shared', { noAck: true })) bodies.push(m.content.toString());
  assert.deepEqual(bodies, Array.from({ length: 10 }, (_, k) => `last-${k}`), 'only the last incarnation, whole');
  await c.close();
  await server.close();
});

test('an exclusive queue whose declare is still under way when its connection closes goes with the connection', { timeout: 60_000 }, async () => {
  const server = await startAmqp({ fsync: 'always' });
  const other = await connect(server);
  try {
    for (let i = 0; i < 10; i++) {
      const name = `excl-closing-${i}`;
      const och = await other.createChannel();
      await och.assertQueue(name, { durable: true });
      const c1 = await connect(server);
      c1.on('error', () => undefined);
      const ch1 = await c1.createChannel();
      ch1.on('error', () => undefined);
      // The durable queue's delete holds the name (its fsync'd metadata write) while the exclusive declare
      // waits behind it; the declaring connection is gone before its turn.
      const deleted = och.deleteQueue(name);
      await new Promise((r) => setImmediate(r));
      void ch1.assertQueue(name, { exclusive: true }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1));
      (c1 as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await deleted;
      await och.close();
      const { ch } = await declareAfterOwnerClosed(other, name, { exclusive: true });
      await ch.deleteQueue(name);
      await ch.close();
    }
  } finally {
    await other.close();
    await server.close();
  }
});
