// SASL PLAIN and SCRAM-SHA-256 with kafkajs against users of the broker's user store; requests before
// authentication close the connection when SASL is required.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { Broker } from '../../src/core/broker.js';
import { createKafkaListener } from '../../src/protocols/kafka/kafka-listener.js';
import type { AddressInfo } from 'node:net';

const { Kafka, logLevel } = kafkajs;

test('kafkajs SASL PLAIN and SCRAM-SHA-256; bad password refused; nothing before authentication', { timeout: 60_000 }, async () => {
  const broker = await Broker.open({ dataDir: join(mkdtempSync(join(tmpdir(), 'ksasl-')), 'data'), fsync: 'never' });
  await broker.users.put('alice', 's3cret');
  const l = createKafkaListener(broker, { advertisedHost: '127.0.0.1', advertisedPort: 0, saslRequired: true });
  await new Promise<void>((r) => l.server.listen(0, '127.0.0.1', r));
  const port = (l.server.address() as AddressInfo).port;
  l.settings.advertisedPort = port;
  const make = (sasl?: { mechanism: 'plain' | 'scram-sha-256'; username: string; password: string }) =>
    new Kafka({ clientId: 't', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000, ...(sasl ? { sasl: sasl as never } : {}) });

  for (const mechanism of ['plain', 'scram-sha-256'] as const) {
    const admin = make({ mechanism, username: 'alice', password: 's3cret' }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: `t-${mechanism}` }] });
    assert.ok((await admin.listTopics()).includes(`t-${mechanism}`));
    await admin.disconnect();
    const bad = make({ mechanism, username: 'alice', password: 'wrong' }).admin();
    await assert.rejects(bad.connect());
    await bad.disconnect().catch(() => undefined);
  }
  // guest works from loopback
  const guest = make({ mechanism: 'scram-sha-256', username: 'guest', password: 'guest' }).admin();
  await guest.connect();
  await guest.disconnect();
  // No SASL at all: the first non-ApiVersions request closes the connection.
  const anon = make().admin();
  await assert.rejects(anon.connect().then(() => anon.listTopics()));
  await anon.disconnect().catch(() => undefined);
  await l.close();
  await broker.close();
});

test('SaslHandshake v0 then bare PLAIN tokens (kafka-python style)', { timeout: 20_000 }, async () => {
  const { connect } = await import('node:net');
  const { KafkaWriter } = await import('../../src/protocols/kafka/codec/writer.js');
  const { writeRequestHeader } = await import('../../src/protocols/kafka/codec/frame.js');
  const broker = await Broker.open({ dataDir: join(mkdtempSync(join(tmpdir(), 'ksasl0-')), 'data'), fsync: 'never' });
  const l = createKafkaListener(broker, { advertisedHost: '127.0.0.1', advertisedPort: 0, saslRequired: true });
  await new Promise<void>((r) => l.server.listen(0, '127.0.0.1', r));
  const port = (l.server.address() as AddressInfo).port;
  const sizeOf = (b: Buffer) => {
    const s = Buffer.alloc(4);
    s.writeInt32BE(b.length);
    return Buffer.concat([s, b]);
  };
  const attempt = (password: string) =>
    new Promise<{ replies: Buffer[]; closed: boolean }>((resolve) => {
      const s = connect(port, '127.0.0.1');
      const replies: Buffer[] = [];
      let buf = Buffer.alloc(0);
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
          replies.push(buf.subarray(4, 4 + buf.readInt32BE(0)));
          buf = buf.subarray(4 + buf.readInt32BE(0));
          if (replies.length === 1) s.write(sizeOf(Buffer.from(`\u0000guest\u0000${password}`)));
          if (replies.length === 2) {
            s.destroy();
            resolve({ replies, closed: false });
          }
        }
      });
      s.on('close', () => resolve({ replies, closed: true }));
      const w = new KafkaWriter();
      writeRequestHeader(w, { apiKey: 17, apiVersion: 0, correlationId: 1, clientId: 'py' }, false);
      w.string('PLAIN', false);
      s.write(sizeOf(w.toBuffer()));
    });
  const ok = await attempt('guest');
  assert.equal(ok.replies.length, 2);
  assert.equal(ok.replies[1]!.length, 0, 'PLAIN success is an empty bare frame');
  const bad = await attempt('nope');
  assert.equal(bad.closed, true);
  assert.equal(bad.replies.length, 1, 'failure closes the connection without a token');
  await l.close();
  await broker.close();
});
