// The AMQP command queue (src/protocols/amqp/command-queue.ts): bounded, counted in back-pressure, and acks
// that do not wait for unrelated fsyncs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import { Broker } from '../../src/core/broker.js';
import { createAmqpListener, type AmqpListener } from '../../src/protocols/amqp/amqp-listener.js';
import type { AmqpConnection } from '../../src/protocols/amqp/connection.js';
import { encodeContentHeaderFrame } from '../../src/protocols/amqp/codec/content-header.js';
import { FrameType } from '../../src/protocols/amqp/codec/generated/constants.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';
import { NodeFileSystem } from '../../src/storage/fs/node-fs.js';
import type { FileHandle, FileSystem } from '../../src/storage/fs/file-system.js';
import { configureLogger } from '../../src/lib/logger.js';
import { RawClient } from './raw-client.js';
import { tempDataDir, until } from './helpers.js';

async function listen(broker: Broker, settings: Parameters<typeof createAmqpListener>[1] = {}): Promise<{ listener: AmqpListener; port: number }> {
  const listener = createAmqpListener(broker, settings);
  await new Promise<void>((r) => listener.server.listen(0, '127.0.0.1', r));
  return { listener, port: (listener.server.address() as AddressInfo).port };
}

function bodyFrame(channel: number, body: Buffer): Buffer {
  const f = Buffer.alloc(8 + body.length);
  f[0] = FrameType.Body;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(body.length, 3);
  body.copy(f, 7);
  f[7 + body.length] = 0xce;
  return f;
}

test('a client pipelining 100k publishes with other methods is paused: its queued commands stay under queuedCommandsMax and every publish arrives', { timeout: 60_000 }, async () => {
  configureLogger('silent');
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'never' });
  const limit = 1000;
  const { listener, port } = await listen(broker, { queuedCommandsMax: limit });
  const raw = await RawClient.connect(port);
  try {
    await raw.handshake();
    raw.send(M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'pipelined', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: [] }));
    await raw.method((m) => m.name === 'queue.declare-ok');
    const conn = [...listener.context.connections][0] as AmqpConnection;
    const publish = Buffer.concat([
      M.encodeBasicPublishFrame(1, { ticket: 0, exchange: '', routingKey: 'pipelined', mandatory: false, immediate: false }),
      encodeContentHeaderFrame(1, 10, {}),
      bodyFrame(1, Buffer.from('0123456789')),
    ]);
    const qos = M.encodeBasicQosFrame(1, { prefetchSize: 0, prefetchCount: 10, global: false });
    const n = 100_000;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      parts.push(publish);
      if (i % 10 === 9) parts.push(qos);
    }
    let paused = false;
    let peak = 0;
    const sampler = setInterval(() => {
      if (conn.socket.isPaused()) paused = true;
      peak = Math.max(peak, conn.queuedCommands);
    }, 1);
    raw.send(Buffer.concat(parts));
    raw.send(M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'pipelined', passive: true, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: [] }));
    const ok = await raw.method((m) => m.name === 'queue.declare-ok' && (m.args as { messageCount: number }).messageCount > 0, 50_000);
    clearInterval(sampler);
    peak = Math.max(peak, conn.queuedCommandsPeak);
    assert.equal((ok!.args as { messageCount: number }).messageCount, n, 'every publish arrived, in order with the methods');
    assert.ok(paused, 'the socket was paused');
    assert.ok(peak <= limit, `at most ${limit} commands queued (peak ${peak})`);
    console.log(`# pipelined ${n} publishes + ${n / 10} qos: peak queued commands ${peak} (limit ${limit})`);
  } finally {
    raw.destroy();
    await listener.close();
    await broker.close();
  }
});

/** A file system whose fsyncs wait while `held` is set. */
class HeldSyncFs {
  held: Promise<void> | undefined;
  release: (() => void) | undefined;
  waiting = 0;
  constructor(readonly inner: FileSystem) {}
  hold(): void {
    this.held = new Promise((r) => (this.release = r));
  }
  unhold(): void {
    this.held = undefined;
    this.release?.();
  }
  wrap(): FileSystem {
    const self = this;
    return new Proxy(this.inner, {
      get(target, prop, receiver) {
        if (prop !== 'open') return Reflect.get(target, prop, receiver);
        return async (path: string, mode: 'r' | 'rw'): Promise<FileHandle> => {
          const h = await target.open(path, mode);
          return new Proxy(h, {
            get(t, p, r) {
              if (p !== 'sync') return Reflect.get(t, p, r);
              return async () => {
                while (self.held) {
                  self.waiting++;
                  await self.held;
                  self.waiting--;
                }
                return t.sync();
              };
            },
          });
        };
      },
    });
  }
}

test('basic.ack behind a publish waiting for a slow fsync settles at once, without waiting for that fsync', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const fs = new HeldSyncFs(new NodeFileSystem());
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'always', fs: fs.wrap() });
  const { listener, port } = await listen(broker);
  const c = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  try {
    const pub = await c.createConfirmChannel();
    await pub.assertQueue('acked', { durable: true });
    await pub.assertQueue('slow', { durable: true });
    pub.sendToQueue('acked', Buffer.from('m1'), { persistent: true });
    await pub.waitForConfirms();
    const sub = await c.createChannel();
    const got = await new Promise<amqp.ConsumeMessage>((resolve) => void sub.consume('acked', (m) => m && resolve(m)));
    const q = broker.getQueue('/', 'acked');
    assert.equal(q.unackedCount, 1);
    fs.hold();
    let confirmed = false;
    pub.sendToQueue('slow', Buffer.from('m2'), { persistent: true }, () => (confirmed = true));
    await until(() => fs.waiting > 0, 3000, 'the publish to wait for its fsync');
    sub.ack(got);
    await until(() => q.unackedCount === 0, 3000, 'the ack to settle while the fsync is held');
    assert.equal(confirmed, false, 'the publish is still waiting for its fsync');
    fs.unhold();
    await pub.waitForConfirms();
    assert.equal(confirmed, true);
  } finally {
    fs.unhold();
    await c.close().catch(() => undefined);
    await listener.close();
    await broker.close();
  }
});

test('incomplete contents over incompleteContentBytesMax on one connection (several channels) close it with 530 NOT_ALLOWED', { timeout: 20_000 }, async () => {
  configureLogger('silent');
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'never' });
  const { listener, port } = await listen(broker, { incompleteContentBytesMax: 100_000 });
  const raw = await RawClient.connect(port);
  try {
    await raw.handshake();
    const part = Buffer.alloc(30_000, 1);
    const start = (ch: number) => {
      raw.send(M.encodeChannelOpenFrame(ch, { outOfBand: '' }));
      raw.send(M.encodeBasicPublishFrame(ch, { ticket: 0, exchange: '', routingKey: 'nowhere', mandatory: false, immediate: false }));
      raw.send(encodeContentHeaderFrame(ch, 1_000_000, {}));
      raw.send(bodyFrame(ch, part));
    };
    // 3 x 30 kB under the limit: the connection lives (a heartbeat-free round trip proves it).
    for (let ch = 2; ch <= 4; ch++) start(ch);
    raw.send(M.encodeChannelOpenFrame(10, { outOfBand: '' }));
    assert.ok(await raw.method((m, ch) => m.name === 'channel.open-ok' && ch === 10));
    // A fourth: 120 kB are being assembled, over the limit.
    start(5);
    const close = await raw.connectionClose();
    assert.equal(close?.name, 'connection.close');
    assert.equal((close!.args as { replyCode: number }).replyCode, 530);
    assert.match((close!.args as { replyText: string }).replyText, /^NOT_ALLOWED - incomplete message contents/);
  } finally {
    raw.destroy();
    await listener.close();
    await broker.close();
  }
});

test('queued method frames count in the connection\'s bytes: 200 pipelined 64 kB queue.declares behind a publish waiting for its fsync pause the socket at unsettledPublishBytesMax', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const fs = new HeldSyncFs(new NodeFileSystem());
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'always', fs: fs.wrap() });
  const limit = 1024 * 1024;
  const { listener, port } = await listen(broker, { unsettledPublishBytesMax: limit });
  const raw = await RawClient.connect(port);
  try {
    await raw.handshake();
    raw.send(M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'durable-q', passive: false, durable: true, exclusive: false, autoDelete: false, nowait: false, arguments: [] }));
    await raw.method((m) => m.name === 'queue.declare-ok');
    const conn = [...listener.context.connections][0] as AmqpConnection;
    fs.hold();
    raw.send(Buffer.concat([
      M.encodeBasicPublishFrame(1, { ticket: 0, exchange: '', routingKey: 'durable-q', mandatory: false, immediate: false }),
      encodeContentHeaderFrame(1, 1, { deliveryMode: 2 }),
      bodyFrame(1, Buffer.from('x')),
    ]));
    await until(() => fs.waiting > 0, 3000, 'the publish to wait for its fsync');
    const big: [string, { type: 'longstr'; value: Buffer }] = ['x-ignored', { type: 'longstr', value: Buffer.alloc(64 * 1024, 7) }];
    const declare = M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'durable-q', passive: true, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: [big] });
    raw.send(Buffer.concat(Array.from({ length: 200 }, () => declare)));
    await until(() => conn.socket.isPaused(), 5000, 'the socket to be paused');
    const peak = conn.queuedCommandBytesPeak;
    assert.ok(peak <= limit + declare.length, `queued method bytes stay under the limit (peak ${peak})`);
    fs.unhold();
    const deadline = Date.now() + 20_000;
    while (raw.frames.filter((f) => f.type === FrameType.Method && M.decodeMethod(f.payload).name === 'queue.declare-ok').length < 201 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(raw.frames.filter((f) => f.type === FrameType.Method && M.decodeMethod(f.payload).name === 'queue.declare-ok').length, 201, 'every declare answered');
  } finally {
    fs.unhold();
    raw.destroy();
    await listener.close();
    await broker.close();
  }
});

test('a transaction holding more than txPublishBytesMax of publishes is refused with 406 and nothing of it is published; smaller ones commit', { timeout: 20_000 }, async () => {
  configureLogger('silent');
  const broker = await Broker.open({ dataDir: tempDataDir(), fsync: 'never' });
  const { listener, port } = await listen(broker, { txPublishBytesMax: 100_000 });
  const raw = await RawClient.connect(port);
  try {
    await raw.handshake();
    raw.send(M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'txq', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: [] }));
    await raw.method((m) => m.name === 'queue.declare-ok');
    raw.send(M.encodeTxSelectFrame(1, {}));
    await raw.method((m) => m.name === 'tx.select-ok');
    const publish = (n: number) => {
      const body = Buffer.alloc(10_000);
      for (let i = 0; i < n; i++) {
        raw.send(M.encodeBasicPublishFrame(1, { ticket: 0, exchange: '', routingKey: 'txq', mandatory: false, immediate: false }));
        raw.send(encodeContentHeaderFrame(1, body.length, {}));
        raw.send(bodyFrame(1, body));
      }
    };
    publish(9);
    raw.send(M.encodeTxCommitFrame(1, {}));
    await raw.method((m) => m.name === 'tx.commit-ok');
    assert.equal(broker.getQueue('/', 'txq').messageCount, 9, 'a transaction under the limit commits');
    publish(11);
    const close = await raw.method((m) => m.name === 'channel.close');
    assert.equal((close!.args as { replyCode: number }).replyCode, 406);
    assert.match((close!.args as { replyText: string }).replyText, /^PRECONDITION_FAILED - transaction publishes exceed 100000 bytes/);
    assert.equal(broker.getQueue('/', 'txq').messageCount, 9, 'nothing of the refused transaction is published');
  } finally {
    raw.destroy();
    await listener.close();
    await broker.close();
  }
});
