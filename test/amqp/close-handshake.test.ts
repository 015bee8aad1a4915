// The end of a connection (docs/amqp.md, Connection): after close-ok the socket is the client's to close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Broker } from '../../src/core/broker.js';
import { createAmqpListener } from '../../src/protocols/amqp/amqp-listener.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';
import { configureLogger } from '../../src/lib/logger.js';
import { NodeFileSystem } from '../../src/storage/fs/node-fs.js';
import amqp from 'amqplib';
import { RawClient } from './raw-client.js';
import { sleep, tempDataDir } from './helpers.js';

test('after connection.close-ok the broker leaves the socket open until the client closes it (then destroys it after closeOkLingerMs)', { timeout: 20_000 }, async () => {
  configureLogger('silent');
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'never' });
  const listener = createAmqpListener(broker, { closeOkLingerMs: 1500 });
  await new Promise<void>((r) => listener.server.listen(0, '127.0.0.1', r));
  const port = (listener.server.address() as AddressInfo).port;
  try {
    // The client closes its socket itself: no EOF from the broker first.
    const a = await RawClient.connect(port);
    await a.handshake();
    a.send(M.encodeConnectionCloseFrame(0, { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }));
    assert.equal((await a.method((m) => m.name === 'connection.close-ok'))?.name, 'connection.close-ok');
    await sleep(300);
    assert.equal(a.closed, false, 'the socket is still open 300 ms after close-ok');
    let ended = false;
    a.socket.once('end', () => (ended = true));
    a.socket.end();
    assert.ok(await a.waitClosed(2000), 'closed once the client ends it');
    assert.equal(ended, true, 'the broker ended its side after the client did');
    // A client that never closes: the broker destroys the socket after the linger time.
    const b = await RawClient.connect(port);
    await b.handshake();
    const sent = Date.now();
    b.send(M.encodeConnectionCloseFrame(0, { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }));
    await b.method((m) => m.name === 'connection.close-ok');
    assert.ok(await b.waitClosed(5000), 'closed by the broker after closeOkLingerMs');
    assert.ok(Date.now() - sent >= 1000, 'not before the linger time');
  } finally {
    await listener.close();
    await broker.close();
  }
});

test('once close-ok arrives, the closed connection\'s exclusive queues are all gone (another connection gets 404 at once)', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  // Queue files are removed slowly (a busy disk): deleting several queues takes a while.
  const inner = new NodeFileSystem();
  const slowFs = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if ((prop !== 'rmdir' && prop !== 'unlink') || typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        await sleep(20);
        return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'never', fs: slowFs });
  const listener = createAmqpListener(broker);
  await new Promise<void>((r) => listener.server.listen(0, '127.0.0.1', r));
  const url = `amqp://guest:guest@127.0.0.1:${(listener.server.address() as AddressInfo).port}`;
  const other = await amqp.connect(url);
  try {
    let stillThere = 0;
    for (let round = 0; round < 5; round++) {
      const c = await amqp.connect(url);
      const ch = await c.createChannel();
      for (let k = 0; k < 5; k++) {
        await ch.assertQueue(`excl-${round}-${k}`, { exclusive: true });
        ch.sendToQueue(`excl-${round}-${k}`, Buffer.from('m'));
      }
      await c.close();
      for (let k = 0; k < 5; k++) {
        const x = await other.createChannel();
        x.on('error', () => undefined);
        const code = await x.checkQueue(`excl-${round}-${k}`).then(() => 200, (e: { code: number }) => e.code);
        if (code !== 404) stillThere++;
        if (code === 200) await x.close();
      }
    }
    assert.equal(stillThere, 0, 'exclusive queues still there after close-ok');
  } finally {
    await other.close().catch(() => undefined);
    await listener.close();
    await broker.close();
  }
});
