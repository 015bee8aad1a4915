// Records one protocol wrote that another cannot express (docs/interop.md, "Messages AMQP cannot express"):
// each is handled per message (the field dropped, counted), never tearing a frame or stopping a consumer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import kafkajs from 'kafkajs';
import { encodeProperties, PROPERTIES_HEADER_KEY } from '../../src/core/message-codec.js';
import { interopWarningCounts } from '../../src/core/interop-warnings.js';
import { connect, sleep, startAmqp } from './helpers.js';

const { Kafka, logLevel } = kafkajs;

test('a poison Kafka record (bad jx.p, 300-byte header key, over-long properties) reaches AMQP stream consumers as a plain message; the good ones around it arrive and the connection stays up', { timeout: 30_000 }, async () => {
  const server = await startAmqp({ kafka: true });
  const kafka = new Kafka({ clientId: 't', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  const c = await connect(server);
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'mixed', numPartitions: 1 }] });
    await producer.connect();
    const longKey = 'k'.repeat(300);
    await producer.send({ topic: 'mixed', messages: [{ value: 'good-0', headers: { h: 'x' } }] });
    // A record with a `jx.p` that is not the codec's format (written by an older broker, before Kafka
    // producers were refused reserved names; appended straight to the log as such a broker stored it).
    const stream = server.broker.findStream('/', 'mixed')!;
    await stream.partition(0).appendRecords([{ key: null, value: Buffer.from('bad-jxp'), timestamp: Date.now(), headers: [{ key: PROPERTIES_HEADER_KEY, value: Buffer.from('garbage') }] }]);
    await producer.send({ topic: 'mixed', messages: [{ value: 'good-1' }] });
    // A header key AMQP cannot carry (a field table name is a shortstr: at most 255 bytes).
    await producer.send({ topic: 'mixed', messages: [{ value: 'long-key', headers: { [longKey]: 'v', ok: 'kept' } }] });
    await producer.send({ topic: 'mixed', messages: [{ value: 'good-2' }] });
    // Well-formed properties a shortstr cannot hold (the core format allows longer strings).
    const props = encodeProperties({ key: null, value: null, timestamp: 0, headers: [], properties: { contentType: 'c'.repeat(400), messageId: 'm-1' }, routingKey: 'r'.repeat(300) })!;
    await stream.partition(0).appendRecords([{ key: null, value: Buffer.from('long-props'), timestamp: Date.now(), headers: [{ key: PROPERTIES_HEADER_KEY, value: props }] }]);
    await producer.send({ topic: 'mixed', messages: [{ value: 'good-3' }] });
    const before = interopWarningCounts();

    // Twice: a reconnecting consumer gets the same.
    for (let round = 0; round < 2; round++) {
      const ch = await c.createChannel();
      let channelError: unknown;
      ch.on('error', (e) => (channelError = e));
      await ch.prefetch(10);
      const got: amqp.ConsumeMessage[] = [];
      let cancelled = false;
      await ch.consume('mixed', (m) => {
        if (m === null) return void (cancelled = true);
        got.push(m);
        ch.ack(m);
      }, { arguments: { 'x-stream-offset': 'first' } });
      for (let i = 0; i < 200 && got.length < 7; i++) await sleep(20);
      assert.deepEqual(got.map((m) => m.content.toString()), ['good-0', 'bad-jxp', 'good-1', 'long-key', 'good-2', 'long-props', 'good-3']);
      assert.equal(cancelled, false, 'the consumer is not cancelled');
      assert.equal(channelError, undefined);
      const [g0, bad, , lk, , lp] = got;
      assert.equal(g0!.properties.headers!.h.toString(), 'x');
      assert.deepEqual(Object.keys(bad!.properties.headers!), ['x-stream-offset'], 'the unparseable jx.p is dropped, nothing else');
      assert.equal(lk!.properties.headers![longKey], undefined, 'the 300-byte header is dropped');
      assert.equal(lk!.properties.headers!.ok.toString(), 'kept', 'the other headers are kept');
      assert.equal(lp!.properties.contentType, undefined, 'a content-type over 255 bytes is dropped');
      assert.equal(lp!.properties.messageId, 'm-1');
      assert.equal(lp!.fields.routingKey, '', 'a routing key over 255 bytes goes out empty');
      await ch.close();
    }
    const after = interopWarningCounts();
    assert.ok(after['corrupt-properties'] > before['corrupt-properties'], 'the bad jx.p is counted');
    assert.ok(after['amqp-field-dropped'] >= before['amqp-field-dropped'] + 3, 'each dropped field is counted');
    // The connection is still usable.
    const ch = await c.createChannel();
    await ch.checkQueue('mixed');
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await c.close().catch(() => undefined);
    await server.close();
  }
});

test('AMQP headers named jx.* stay inside the properties: they round-trip and never become record headers', { timeout: 20_000 }, async () => {
  const server = await startAmqp();
  const c = await connect(server);
  try {
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('s-jx', { durable: true, arguments: { 'x-queue-type': 'stream' } });
    ch.sendToQueue('s-jx', Buffer.from('m'), { headers: { 'jx.p': 'not-a-record-header', 'jx.other': 7 } });
    await ch.waitForConfirms();
    const st = server.broker.findStream('/', 's-jx')!;
    const [rec] = await st.partition(0).readRecords(0, 1);
    assert.deepEqual(rec!.headers.map((h) => h.key), [PROPERTIES_HEADER_KEY], 'one reserved header, written by the codec');
    await ch.prefetch(1);
    const got = await new Promise<amqp.ConsumeMessage>((resolve) => void ch.consume('s-jx', (m) => m && resolve(m), { arguments: { 'x-stream-offset': 'first' } }));
    assert.equal(got.properties.headers!['jx.p'].toString(), 'not-a-record-header');
    assert.equal(got.properties.headers!['jx.other'], 7);
  } finally {
    await c.close().catch(() => undefined);
    await server.close();
  }
});
