// A queue deleted while its consumer's acks are being written (issue 9 item 13): the settlement journal is
// closed only after its pending writes, so no write fails with EBADF (nothing logged, nothing raised).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { connect, startAmqp, until } from './helpers.js';
import { configureLogger } from '../../src/lib/logger.js';

test('a queue deleted while acks are being written logs no EBADF and no failed settlement write', { timeout: 30_000 }, async () => {
  const server = await startAmqp({ fsync: 'always' });
  const lines: string[] = [];
  configureLogger(
    'warn',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  try {
    const c = await connect(server);
    const admin = await (await connect(server)).createChannel();
    for (let round = 0; round < 15; round++) {
      const q = `dwa-${round}`;
      const pub = await c.createConfirmChannel();
      await pub.assertQueue(q, { durable: true });
      for (let i = 0; i < 200; i++) pub.sendToQueue(q, Buffer.from(`m${i}`), { persistent: true });
      await pub.waitForConfirms();
      await pub.close();
      const ch = await c.createChannel();
      ch.on('error', () => undefined);
      await ch.prefetch(200);
      const got: Array<import('amqplib').ConsumeMessage> = [];
      await ch.consume(q, (m) => m && got.push(m));
      await until(() => got.length === 200);
      // Acks and the delete leave together: the acks' settlement write is pending when the queue goes.
      for (const m of got) ch.ack(m);
      await admin.deleteQueue(q);
      await ch.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 50));
    await c.close();
  } finally {
    configureLogger('silent');
    await server.close();
  }
  assert.deepEqual(lines.filter((l) => /EBADF|settlement write failed|settlement journal write failed/.test(l)), []);
});
