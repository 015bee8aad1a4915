// AMQP stream consumers see only durable records (docs/architecture.md "Visibility"): under fsync=always a
// record published to a stream queue is delivered only after the fdatasync covering it; a power loss never
// takes a delivered record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { startMemoryBroker } from '../memory-broker.js';

test('an AMQP stream consumer does not receive a record before its fdatasync completes; a power loss never takes a delivered record', { timeout: 20_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'always' });
  const url = `amqp://guest:guest@127.0.0.1:${mb.amqpPort}`;
  const pubConn = await amqp.connect(url);
  const pub = await pubConn.createConfirmChannel();
  await pub.assertQueue('sv', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  pub.sendToQueue('sv', Buffer.from('a'), { persistent: true });
  await pub.waitForConfirms();

  const release = mb.fs.holdSyncs('/streams/sv~'); // the stream's incarnation directory
  let confirmed = false;
  pub.sendToQueue('sv', Buffer.from('b'), { persistent: true });
  const confirms = pub.waitForConfirms().then(() => (confirmed = true));
  const log = mb.broker.getStream('/', 'sv').partition(0);
  for (let i = 0; i < 1000 && log.nextOffset < 2; i++) await sleep(1);
  assert.equal(log.nextOffset, 2, 'b is written, its fdatasync held');

  const subConn = await amqp.connect(url);
  const sub = await subConn.createChannel();
  await sub.prefetch(10);
  assert.equal((await sub.checkQueue('sv')).messageCount, 1, 'declare-ok counts visible records');
  const got: string[] = [];
  await sub.consume('sv', (m) => m && (got.push(m.content.toString()), sub.ack(m)), { arguments: { 'x-stream-offset': 'first' } });
  for (let i = 0; i < 200 && got.length < 1; i++) await sleep(5);
  await sleep(100);
  assert.deepEqual(got, ['a'], 'only the durable record is delivered');
  assert.equal(confirmed, false);

  // Power loss now: everything delivered is still there.
  const crashed = await startMemoryBroker({ fs: mb.fs.crash(), fsync: 'always' });
  const left = await crashed.broker.getStream('/', 'sv').readMessages(0, 0, 10);
  for (const v of got) assert.ok(left.some((m) => m.message.value?.toString() === v), `${v} was delivered, then lost`);
  await crashed.close();

  release();
  await confirms;
  for (let i = 0; i < 400 && got.length < 2; i++) await sleep(5);
  assert.deepEqual(got, ['a', 'b'], 'delivered once durable');
  await subConn.close();
  await pubConn.close();
  await mb.close();
});
