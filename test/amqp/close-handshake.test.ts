// The end of a connection (docs/amqp.md, Connection): after close-ok the socket is the client's to close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Broker } from '../../src/core/broker.js';
import { createAmqpListener } from '../../src/protocols/amqp/amqp-listener.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';
import { configureLogger } from '../../src/lib/logger.js';
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
