// Bad input on live sockets, answered as RabbitMQ does (README §1, §6): a wrong protocol header gets our
// header back; framing errors, unexpected frames and unknown methods close the connection with the right
// reply code; soft errors close only the channel. A bystander connection is never disturbed, and fuzzed
// frames never take the broker down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RunningServer } from '../../src/server/server.js';
import { PROTOCOL_HEADER, encodeFrame } from '../../src/protocols/amqp/codec/frame.js';
import { encodeContentHeaderFrame } from '../../src/protocols/amqp/codec/content-header.js';
import { FrameType } from '../../src/protocols/amqp/codec/generated/constants.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';
import { connect, startAmqp } from './helpers.js';
import { RawClient } from './raw-client.js';

let server: RunningServer;
let port: number;
before(async () => {
  server = await startAmqp();
  port = server.port('amqp')!;
});
after(async () => {
  await server.close();
});

const closeCode = (m: M.AmqpMethod | undefined): number | undefined => (m && m.name === 'connection.close' ? m.args.replyCode : undefined);

test('garbage instead of the protocol header: our header comes back and the socket closes', async () => {
  const c = await RawClient.connect(port);
  c.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.ok(await c.waitClosed());
  assert.ok(Buffer.concat(c.raw).equals(PROTOCOL_HEADER));
});

test('bad frame-end octet: 501 FRAME_ERROR', async () => {
  const c = await RawClient.connect(port);
  await c.handshake();
  const f = M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'x', passive: false, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: [] });
  f[f.length - 1] = 0x00;
  c.send(f);
  const m = await c.connectionClose();
  assert.equal(closeCode(m), 501);
  c.destroy();
});

test('oversize frame: 501 FRAME_ERROR', async () => {
  const c = await RawClient.connect(port);
  await c.handshake();
  const big = Buffer.alloc(200_000);
  c.send(encodeFrame(FrameType.Body, 1, big));
  assert.equal(closeCode(await c.connectionClose()), 501);
  c.destroy();
});

test('content header without a publish, and a method mid-content: 505 UNEXPECTED_FRAME', async () => {
  const a = await RawClient.connect(port);
  await a.handshake();
  a.send(encodeContentHeaderFrame(1, 3, {}));
  assert.equal(closeCode(await a.connectionClose()), 505);
  a.destroy();
  const b = await RawClient.connect(port);
  await b.handshake();
  b.send(M.encodeBasicPublishFrame(1, { ticket: 0, exchange: '', routingKey: 'q', mandatory: false, immediate: false }));
  b.send(M.encodeBasicQosFrame(1, { prefetchSize: 0, prefetchCount: 1, global: false }));
  assert.equal(closeCode(await b.connectionClose()), 505);
  b.destroy();
});

test('methods on a channel never opened or already closed: 504 CHANNEL_ERROR; channel.open twice: 504', async () => {
  const a = await RawClient.connect(port);
  await a.handshake();
  a.send(M.encodeBasicQosFrame(9, { prefetchSize: 0, prefetchCount: 1, global: false }));
  assert.equal(closeCode(await a.connectionClose()), 504);
  a.destroy();
  const b = await RawClient.connect(port);
  await b.handshake();
  b.send(M.encodeChannelCloseFrame(1, { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }));
  await b.method((m) => m.name === 'channel.close-ok');
  b.send(M.encodeBasicQosFrame(1, { prefetchSize: 0, prefetchCount: 1, global: false }));
  assert.equal(closeCode(await b.connectionClose()), 504);
  b.destroy();
  const c = await RawClient.connect(port);
  await c.handshake();
  c.send(M.encodeChannelOpenFrame(1, { outOfBand: '' }));
  assert.equal(closeCode(await c.connectionClose()), 504);
  c.destroy();
});

test('unknown class or method: the connection closes with 503; prefetch_size and immediate: 540', async () => {
  const a = await RawClient.connect(port);
  await a.handshake();
  a.send(encodeFrame(FrameType.Method, 1, Buffer.from([0x00, 0x63, 0x00, 0x01])));
  assert.equal(closeCode(await a.connectionClose()), 503);
  a.destroy();
  const b = await RawClient.connect(port);
  await b.handshake();
  b.send(M.encodeBasicQosFrame(1, { prefetchSize: 10, prefetchCount: 1, global: false }));
  assert.equal(closeCode(await b.connectionClose()), 540);
  b.destroy();
});

test('a soft error closes only its channel, with RabbitMQ reply text; frames are dropped until close-ok', async () => {
  const c = await RawClient.connect(port);
  await c.handshake();
  c.send(M.encodeChannelOpenFrame(2, { outOfBand: '' }));
  await c.method((m, ch) => m.name === 'channel.open-ok' && ch === 2);
  c.send(M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'missing-q', passive: true, durable: false, exclusive: false, autoDelete: false, nowait: false, arguments: [] }));
  const close = await c.method((m, ch) => m.name === 'channel.close' && ch === 1);
  assert.ok(close && close.name === 'channel.close');
  assert.equal(close.args.replyCode, 404);
  assert.equal(close.args.replyText, "NOT_FOUND - no queue 'missing-q' in vhost '/'");
  assert.equal(close.args.classId, 50);
  assert.equal(close.args.methodId, 10);
  // Dropped: no answer on channel 1; channel 2 still works.
  c.send(M.encodeBasicQosFrame(1, { prefetchSize: 0, prefetchCount: 1, global: false }));
  c.send(M.encodeBasicQosFrame(2, { prefetchSize: 0, prefetchCount: 1, global: false }));
  await c.method((m, ch) => m.name === 'basic.qos-ok' && ch === 2);
  c.send(M.encodeChannelCloseOkFrame(1, {}));
  c.send(M.encodeChannelOpenFrame(1, { outOfBand: '' }));
  await c.method((m, ch) => m.name === 'channel.open-ok' && ch === 1 && c.frames.length > 6);
  c.destroy();
});

test('fuzz: random and mutated frames never crash the broker or disturb a bystander', { timeout: 60_000 }, async () => {
  const bystander = await connect(server);
  const bch = await bystander.createChannel();
  const q = (await bch.assertQueue('', { exclusive: true })).queue;
  const valid = [
    M.encodeQueueDeclareFrame(1, { ticket: 0, queue: 'fz', passive: false, durable: false, exclusive: false, autoDelete: true, nowait: false, arguments: [] }),
    M.encodeBasicPublishFrame(1, { ticket: 0, exchange: '', routingKey: 'fz', mandatory: true, immediate: false }),
    encodeContentHeaderFrame(1, 4, { headers: [['a', { type: 'int32', value: 1 }]] }),
    encodeFrame(FrameType.Body, 1, Buffer.from('body')),
    M.encodeBasicConsumeFrame(1, { ticket: 0, queue: 'fz', consumerTag: '', noLocal: false, noAck: false, exclusive: false, nowait: false, arguments: [] }),
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => [Buffer.from(a)]),
        fc.tuple(fc.subarray(valid, { minLength: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })).map(([frames, muts]) => {
          const b = Buffer.concat(frames);
          for (const [at, v] of muts) b[at % b.length] = v;
          return [b];
        }),
      ),
      async (chunks) => {
        const c = await RawClient.connect(port);
        await c.handshake();
        for (const ch of chunks) c.send(ch);
        await new Promise((r) => setTimeout(r, 15));
        c.destroy();
      },
    ),
    { numRuns: 120, seed: 4242 },
  );
  bch.sendToQueue(q, Buffer.from('still here'));
  let got: unknown = false;
  for (let i = 0; i < 50 && !got; i++) {
    got = await bch.get(q, { noAck: true });
    if (!got) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(got, 'the bystander still works');
  await bystander.close();
});
