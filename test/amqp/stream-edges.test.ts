// Stream queue arguments at the edge (issue 9 item 20): x-stream-offset beyond 2^53 or negative and a
// segment size beyond what 32-bit segment indexes address are refused with PRECONDITION_FAILED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { startMemoryBroker } from '../memory-broker.js';

test('x-stream-offset beyond 2^53 or negative, and x-stream-max-segment-size-bytes over 2^31 - 1, get 406 PRECONDITION_FAILED', { timeout: 15_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'never' });
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${mb.amqpPort}`);
  const refused = async (use: (ch: amqp.Channel) => Promise<unknown>): Promise<number | undefined> => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.prefetch(10);
    try {
      await use(ch);
      await ch.close();
      return undefined;
    } catch (e) {
      return (e as { code?: number }).code;
    }
  };
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('se', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  ch.sendToQueue('se', Buffer.from('a'));
  await ch.waitForConfirms();
  for (const offset of [2 ** 60, -1, -(2 ** 60)]) {
    assert.equal(await refused((c) => c.consume('se', () => undefined, { arguments: { 'x-stream-offset': { '!': 'long', value: offset } } })), 406, `x-stream-offset ${offset}`);
  }
  for (const size of [2 ** 31, 2 ** 32]) {
    assert.equal(await refused((c) => c.assertQueue(`seg${size}`, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': size } })), 406, `segment size ${size}`);
  }
  assert.equal(mb.broker.findStream('/', `seg${2 ** 32}`), undefined);
  assert.equal(await refused((c) => c.assertQueue('segok', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-stream-max-segment-size-bytes': 2 ** 31 - 1 } })), undefined);
  await conn.close();
  await mb.close();
});
