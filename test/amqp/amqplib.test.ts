// amqplib against a real in-process broker: exchanges, queues, publish/consume/get, acks, confirms, tx,
// qos, consumer priorities, mandatory returns, dead-lettering, direct reply-to, errors in RabbitMQ's form.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RunningServer } from '../../src/server/server.js';
import { connect, sleep, startAmqp, until } from './helpers.js';

// amqplib's generated method ids (its promise API has no tx helpers): loaded by path, the package exports no subpaths.
const require = createRequire(import.meta.url);
const defs = require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as Record<string, number>;

let server: RunningServer;
before(async () => {
  server = await startAmqp();
});
after(async () => {
  await server.close();
});

/** Runs fn on a fresh channel and returns the error that closed it. */
async function channelError(c: amqp.ChannelModel, fn: (ch: amqp.Channel) => Promise<unknown>): Promise<{ code: number; message: string }> {
  const ch = await c.createChannel();
  ch.on('error', () => undefined);
  try {
    await fn(ch);
  } catch (err) {
    return err as { code: number; message: string };
  }
  throw new Error('expected a channel error');
}

test('handshake: server properties and capabilities; PLAIN and AMQPLAIN; bad credentials refused', async () => {
  const c = await connect(server);
  const props = c.connection.serverProperties as Record<string, unknown>;
  assert.equal(props['product'], 'Junction');
  const caps = props['capabilities'] as Record<string, boolean>;
  for (const k of ['publisher_confirms', 'basic.nack', 'consumer_cancel_notify', 'exchange_exchange_bindings', 'per_consumer_qos', 'direct_reply_to', 'consumer_priorities']) assert.equal(caps[k], true, k);
  await c.close();
  const port = server.port('amqp');
  const c2 = await amqp.connect({ protocol: 'amqp', hostname: '127.0.0.1', port, username: 'guest', password: 'guest' }, { credentials: amqp.credentials.amqplain('guest', 'guest') });
  await c2.close();
  await assert.rejects(amqp.connect(`amqp://guest:wrong@127.0.0.1:${port}`), /ACCESS_REFUSED|403|closed/i);
  await assert.rejects(amqp.connect(`amqp://guest:guest@127.0.0.1:${port}/nope`), /NOT_ALLOWED|530|vhost|ConnectionClose/i);
});

test('tune: frame_max and heartbeat negotiated; a large body crosses many frames intact', async () => {
  const c = await connect(server, '?frameMax=4096&heartbeat=1');
  const ch = await c.createChannel();
  const q = await ch.assertQueue('', { exclusive: true });
  const body = Buffer.alloc(300_000, 7);
  body.write('start');
  ch.sendToQueue(q.queue, body);
  let got: amqp.GetMessage | false = false;
  for (let i = 0; i < 50 && !got; i++) {
    got = await ch.get(q.queue, { noAck: true });
    if (!got) await sleep(20);
  }
  assert.ok(got);
  assert.ok((got as amqp.GetMessage).content.equals(body));
  await sleep(2500); // heartbeats keep the connection alive past 2 intervals of idle
  await ch.checkQueue(q.queue);
  await c.close();
});

test('exchanges: direct, fanout, topic, headers; exchange-to-exchange; alternate-exchange; passive; internal', async () => {
  const c = await connect(server);
  const ch = await c.createConfirmChannel();
  await ch.assertExchange('x.direct', 'direct', { durable: false });
  await ch.assertExchange('x.fan', 'fanout', { durable: false });
  await ch.assertExchange('x.topic', 'topic', { durable: false });
  await ch.assertExchange('x.headers', 'headers', { durable: false });
  await ch.assertExchange('x.alt', 'fanout', { durable: false });
  await ch.assertExchange('x.main', 'direct', { durable: false, alternateExchange: 'x.alt' });
  const qs = await Promise.all(['d', 'f1', 'f2', 't', 'h', 'alt', 'e2e'].map((n) => ch.assertQueue(`ex-${n}`, { durable: false })));
  await ch.bindQueue('ex-d', 'x.direct', 'k1');
  await ch.bindQueue('ex-f1', 'x.fan', '');
  await ch.bindQueue('ex-f2', 'x.fan', '');
  await ch.bindQueue('ex-t', 'x.topic', 'a.*.c');
  await ch.bindQueue('ex-h', 'x.headers', '', { 'x-match': 'any', color: 'red', size: 'L' });
  await ch.bindQueue('ex-alt', 'x.alt', '');
  await ch.bindExchange('x.fan', 'x.topic', 'e2e.#');
  await ch.bindQueue('ex-e2e', 'x.topic', 'e2e.#');
  ch.publish('x.direct', 'k1', Buffer.from('d'));
  ch.publish('x.direct', 'k2', Buffer.from('lost'));
  ch.publish('x.fan', 'whatever', Buffer.from('f'));
  ch.publish('x.topic', 'a.b.c', Buffer.from('t'));
  ch.publish('x.topic', 'a.b.c.d', Buffer.from('no'));
  ch.publish('x.headers', '', Buffer.from('h'), { headers: { color: 'red' } });
  ch.publish('x.main', 'nothing', Buffer.from('alt'));
  ch.publish('x.topic', 'e2e.x', Buffer.from('e2e'));
  await ch.waitForConfirms();
  const counts = Object.fromEntries(await Promise.all(qs.map(async (q) => [q.queue, (await ch.checkQueue(q.queue)).messageCount] as const)));
  assert.deepEqual(counts, { 'ex-d': 1, 'ex-f1': 2, 'ex-f2': 2, 'ex-t': 1, 'ex-h': 1, 'ex-alt': 1, 'ex-e2e': 1 });
  await ch.checkExchange('x.direct');
  assert.equal((await channelError(c, (x) => x.checkExchange('x.none'))).code, 404);
  assert.equal((await channelError(c, (x) => x.assertExchange('x.direct', 'fanout', { durable: false }))).code, 406);
  assert.equal((await channelError(c, (x) => x.assertExchange('amq.mine', 'fanout'))).code, 403);
  const e = await channelError(c, async (x) => {
    await x.assertExchange('x.int', 'fanout', { internal: true, durable: false });
    x.publish('x.int', '', Buffer.from('no'));
    await x.assertQueue('', { exclusive: true });
  });
  assert.equal(e.code, 403);
  assert.equal((await channelError(c, async (x) => x.publish('x.none', '', Buffer.from('')) && x.assertQueue('', { exclusive: true }))).code, 404);
  assert.equal((await channelError(c, (x) => x.deleteExchange('x.fan', { ifUnused: true }))).code, 406);
  await ch.unbindQueue('ex-d', 'x.direct', 'k1');
  await ch.deleteExchange('x.direct');
  assert.equal((await channelError(c, (x) => x.checkExchange('x.direct'))).code, 404);
  await c.close();
});

test('queues: declare-ok counts, server-named, redeclare equivalence, passive, purge, delete if-empty/if-unused, exclusive', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  const q = await ch.assertQueue('qa', { durable: true, arguments: { 'x-max-length': 10 } });
  assert.deepEqual(q, { queue: 'qa', messageCount: 0, consumerCount: 0 });
  for (let i = 0; i < 3; i++) ch.sendToQueue('qa', Buffer.from(`m${i}`));
  assert.equal((await ch.checkQueue('qa')).messageCount, 3);
  assert.match((await ch.assertQueue('', { exclusive: true })).queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
  const ineq = await channelError(c, (x) => x.assertQueue('qa', { durable: false }));
  assert.equal(ineq.code, 406);
  assert.match(ineq.message, /PRECONDITION_FAILED - inequivalent arg 'durable'/);
  assert.equal((await channelError(c, (x) => x.assertQueue('qa', { durable: true, arguments: { 'x-max-length': 11 } }))).code, 406);
  const nf = await channelError(c, (x) => x.checkQueue('missing'));
  assert.equal(nf.code, 404);
  assert.match(nf.message, /NOT_FOUND - no queue 'missing' in vhost '\/'/);
  assert.equal((await channelError(c, (x) => x.assertQueue('amq.reserved'))).code, 403);
  assert.equal((await channelError(c, (x) => x.assertQueue('bad-arg', { arguments: { 'x-message-ttl': 'soon' } }))).code, 406);
  assert.equal((await channelError(c, (x) => x.deleteQueue('qa', { ifEmpty: true }))).code, 406);
  assert.deepEqual(await ch.purgeQueue('qa'), { messageCount: 3 });
  assert.deepEqual(await ch.deleteQueue('qa', { ifEmpty: true }), { messageCount: 0 });
  // Exclusive: another connection gets 405.
  const ex = await ch.assertQueue('mine', { exclusive: true });
  const other = await connect(server);
  assert.equal((await channelError(other, (x) => x.checkQueue(ex.queue))).code, 405);
  assert.equal((await channelError(other, (x) => x.consume(ex.queue, () => undefined))).code, 405);
  await other.close();
  await c.close();
  // Closing the owner deleted it.
  const c3 = await connect(server);
  assert.equal((await channelError(c3, (x) => x.checkQueue('mine'))).code, 404);
  await c3.close();
});

test('consume: round robin, prefetch per consumer, ack/nack/reject with requeue and multiple, redelivered flag', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(String(i)));
  await ch.prefetch(3);
  const got: amqp.ConsumeMessage[] = [];
  const { consumerTag } = await ch.consume(q, (m) => m && got.push(m));
  await until(() => got.length === 3);
  await sleep(50);
  assert.equal(got.length, 3, 'prefetch 3 holds the rest');
  ch.ack(got[1]!, true); // acks 1 and 2 (tags 1,2)
  await until(() => got.length === 5);
  ch.nack(got[2]!, false, true); // requeue tag 3
  await until(() => got.length === 6);
  const redelivered = got.find((m) => m.fields.redelivered);
  assert.ok(redelivered, 'a requeued message comes back flagged redelivered');
  assert.equal(redelivered.content.toString(), '2');
  await ch.cancel(consumerTag);
  ch.reject(got[3]!, false); // dropped: no DLX
  ch.ackAll();
  await sleep(50);
  assert.equal((await ch.checkQueue(q)).messageCount, 10 - 5, 'acked 0,1,3,4 and the redelivered 2; rejected nothing else');
  // Unknown delivery tag: 406 closes the channel.
  const e = await channelError(c, async (x) => {
    x.ack({ fields: { deliveryTag: 999 } } as amqp.Message);
    await x.checkQueue(q);
  });
  assert.equal(e.code, 406);
  assert.match(e.message, /unknown delivery tag 999/);
  await c.close();
});

test('competing consumers share a queue; consumer priorities win; exclusive consumer refuses others', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  const a: string[] = [];
  const b: string[] = [];
  await ch.consume(q, (m) => m && a.push(m.content.toString()), { noAck: true });
  await ch.consume(q, (m) => m && b.push(m.content.toString()), { noAck: true });
  for (let i = 0; i < 100; i++) ch.sendToQueue(q, Buffer.from(String(i)));
  await until(() => a.length + b.length === 100);
  assert.ok(a.length >= 40 && b.length >= 40, `round robin ${a.length}/${b.length}`);
  const ch2 = await c.createChannel();
  const q2 = (await ch2.assertQueue('', { exclusive: true })).queue;
  const low: string[] = [];
  const high: string[] = [];
  await ch2.consume(q2, (m) => m && low.push(m.content.toString()), { noAck: true, priority: 1 });
  await ch2.consume(q2, (m) => m && high.push(m.content.toString()), { noAck: true, priority: 10 });
  for (let i = 0; i < 20; i++) ch2.sendToQueue(q2, Buffer.from(String(i)));
  await until(() => low.length + high.length === 20);
  assert.equal(high.length, 20);
  await ch2.consume(q2, () => undefined, { exclusive: false });
  assert.equal((await channelError(c, (x) => x.consume(q2, () => undefined, { exclusive: true }))).code, 403);
  await c.close();
});

test('publisher confirms (ack, multiple) and mandatory returns before the confirm', async () => {
  const c = await connect(server);
  const ch = await c.createConfirmChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  const returned: amqp.Message[] = [];
  ch.on('return', (m) => returned.push(m));
  let acked = 0;
  for (let i = 0; i < 500; i++) ch.sendToQueue(q, Buffer.from(String(i)), {}, (err) => { if (!err) acked++; });
  ch.publish('', 'no-such-queue', Buffer.from('bounce'), { mandatory: true, messageId: 'm1' });
  await ch.waitForConfirms();
  assert.equal(acked, 500);
  assert.equal(returned.length, 1);
  assert.equal((returned[0]!.fields as unknown as { replyCode: number }).replyCode, 312);
  assert.equal((returned[0]!.fields as unknown as { replyText: string }).replyText, 'NO_ROUTE');
  assert.equal(returned[0]!.properties.messageId, 'm1');
  assert.equal(returned[0]!.content.toString(), 'bounce');
  // reject-publish overflow: the newcomer is nacked.
  await ch.assertQueue('full', { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
  const results: Array<Error | null> = [];
  ch.sendToQueue('full', Buffer.from('1'), {}, (err) => results.push(err));
  ch.sendToQueue('full', Buffer.from('2'), {}, (err) => results.push(err));
  await ch.waitForConfirms().catch(() => undefined);
  assert.equal(results.length, 2);
  assert.equal(results[0], null);
  assert.ok(results[1]);
  await ch.deleteQueue('full');
  await c.close();
});

test('properties round trip with typed headers; expiration and TTL; dead-lettering with x-death', async () => {
  const c = await connect(server);
  const ch = await c.createConfirmChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  const ts = Math.floor(Date.now() / 1000);
  ch.sendToQueue(q, Buffer.from('p'), {
    contentType: 'text/plain', contentEncoding: 'utf8', headers: { n: 42, s: 'str', f: 1.5, nested: { a: [1, 'b'] }, flag: true },
    deliveryMode: 2, priority: 3, correlationId: 'c1', replyTo: 'r1', messageId: 'm1', timestamp: ts, type: 't', appId: 'app', userId: 'guest',
  });
  await ch.waitForConfirms();
  const m = (await ch.get(q, { noAck: true })) as amqp.GetMessage;
  assert.deepEqual(
    { ...m.properties },
    { contentType: 'text/plain', contentEncoding: 'utf8', headers: { n: 42, s: 'str', f: 1.5, nested: { a: [1, 'b'] }, flag: true }, deliveryMode: 2, priority: 3, correlationId: 'c1', replyTo: 'r1', expiration: undefined, messageId: 'm1', timestamp: ts, type: 't', userId: 'guest', appId: 'app', clusterId: undefined },
  );
  assert.equal((await channelError(c, async (x) => { x.sendToQueue(q, Buffer.from(''), { userId: 'mallory' }); await x.checkQueue(q); })).code, 406);
  assert.equal((await channelError(c, async (x) => { x.sendToQueue(q, Buffer.from(''), { expiration: 'soon' }); await x.checkQueue(q); })).code, 406);
  // Dead-lettering: expired and rejected messages go to the DLX with x-death.
  await ch.assertExchange('dlx', 'fanout', { durable: false });
  const dead = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(dead, 'dlx', '');
  const src = (await ch.assertQueue('', { exclusive: true, arguments: { 'x-dead-letter-exchange': 'dlx', 'x-message-ttl': 50 } })).queue;
  ch.sendToQueue(src, Buffer.from('expire-me'));
  ch.sendToQueue(src, Buffer.from('per-message'), { expiration: '10' });
  await ch.waitForConfirms();
  const deaths: amqp.GetMessage[] = [];
  for (let i = 0; i < 100 && deaths.length < 2; i++) {
    const d = await ch.get(dead, { noAck: true });
    if (d) deaths.push(d);
    else await sleep(20);
  }
  assert.equal(deaths.length, 2);
  const xd = deaths[0]!.properties.headers!['x-death'] as unknown as Array<Record<string, unknown>>;
  assert.equal(xd[0]!['reason'], 'expired');
  assert.equal(xd[0]!['queue'], src);
  assert.equal(deaths[0]!.properties.headers!['x-first-death-reason'], 'expired');
  await c.close();
});

test('basic.get counts; recover requeues; cancelling keeps unacked; closing the channel requeues', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  const q = (await ch.assertQueue('getq', { durable: false })).queue;
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(String(i)));
  await sleep(20);
  const g = (await ch.get(q)) as amqp.GetMessage;
  assert.equal(g.fields.messageCount, 2);
  assert.equal(g.fields.redelivered, false);
  await ch.recover();
  const g2 = (await ch.get(q)) as amqp.GetMessage;
  assert.equal(g2.content.toString(), '0');
  assert.equal(g2.fields.redelivered, true);
  await ch.close(); // unacked g2 goes back
  const ch2 = await c.createChannel();
  assert.equal((await ch2.checkQueue(q)).messageCount, 3);
  assert.equal((await channelError(c, (x) => x.get('getq-missing'))).code, 404);
  await c.close();
});

test('tx: publishes and acks wait for commit; rollback drops them; tx and confirm do not mix', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  // amqplib has no tx helpers in its promise API: send the methods by hand.
  const raw = ch as unknown as { rpc(method: number, fields: object, expect: number): Promise<unknown> };
  await raw.rpc(defs['TxSelect']!, {}, defs['TxSelectOk']!);
  ch.sendToQueue(q, Buffer.from('a'));
  ch.sendToQueue(q, Buffer.from('b'));
  const peek = await c.createChannel();
  await sleep(30);
  assert.equal((await peek.checkQueue(q)).messageCount, 0, 'not visible before commit');
  await raw.rpc(defs['TxCommit']!, {}, defs['TxCommitOk']!);
  assert.equal((await peek.checkQueue(q)).messageCount, 2);
  ch.sendToQueue(q, Buffer.from('c'));
  await raw.rpc(defs['TxRollback']!, {}, defs['TxRollbackOk']!);
  assert.equal((await peek.checkQueue(q)).messageCount, 2);
  const e = await channelError(c, async (x) => {
    const r = x as unknown as { rpc(method: number, fields: object, expect: number): Promise<unknown> };
    await r.rpc(defs['TxSelect']!, {}, defs['TxSelectOk']!);
    await r.rpc(defs['ConfirmSelect']!, { nowait: false }, defs['ConfirmSelectOk']!);
  });
  assert.equal(e.code, 406);
  await c.close();
});

test('direct reply-to: RPC without a reply queue', async () => {
  const c = await connect(server);
  const server1 = await c.createChannel();
  await server1.assertQueue('rpc', { durable: false });
  await server1.consume('rpc', (m) => {
    if (!m) return;
    server1.sendToQueue(m.properties.replyTo as string, Buffer.from(`re:${m.content}`), { correlationId: m.properties.correlationId });
    server1.ack(m);
  });
  const client = await c.createChannel();
  const replies: amqp.ConsumeMessage[] = [];
  await client.consume('amq.rabbitmq.reply-to', (m) => m && replies.push(m), { noAck: true });
  client.sendToQueue('rpc', Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'x1' });
  await until(() => replies.length === 1);
  assert.equal(replies[0]!.content.toString(), 're:ping');
  assert.equal(replies[0]!.properties.correlationId, 'x1');
  assert.equal((await channelError(c, async (x) => { x.sendToQueue('rpc', Buffer.from(''), { replyTo: 'amq.rabbitmq.reply-to' }); await x.checkQueue('rpc'); })).code, 406);
  await c.close();
});

test('server-sent basic.cancel when the queue is deleted', async () => {
  const c = await connect(server);
  const ch = await c.createChannel();
  await ch.assertQueue('goes-away', { durable: false });
  const seen: Array<amqp.ConsumeMessage | null> = [];
  await ch.consume('goes-away', (m) => seen.push(m));
  const other = await c.createChannel();
  await other.deleteQueue('goes-away');
  await until(() => seen.length === 1);
  assert.equal(seen[0], null, 'amqplib reports a server cancel as a null message');
  await c.close();
});
