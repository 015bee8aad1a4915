// Topic (stream) definition changes raced against themselves and against producers, from two connections and
// from Kafka and AMQP (issue 9, item 2): a deletion never touches a newer incarnation of the name, and after a
// restart every definition and every acknowledged record of the last incarnation is there, nothing older.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import amqp from 'amqplib';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

const { Kafka, logLevel } = kafkajs;

async function start(dataDir: string): Promise<RunningServer> {
  configureLogger('silent');
  return startServer({ ...defaultConfig, dataDir, host: '127.0.0.1', kafkaPort: 0, amqpPort: 0, httpPort: 'off', mqttPort: 'off', stompPort: 'off', fsync: 'always' });
}

function client(port: number, id: string) {
  return new Kafka({ clientId: id, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 20, maxRetryTime: 100 } });
}

/** Every record value of a stream's partition 0 (read in-process, after the real clients are done). */
async function valuesOf(server: RunningServer, name: string): Promise<string[]> {
  const s = server.broker.getStream('/', name);
  const out: string[] = [];
  for (let off = s.earliestOffset(0); off < s.latestOffset(0); ) {
    const got = await s.readMessages(0, off, 1000);
    if (got.length === 0) break;
    for (const g of got) out.push(g.message.value?.toString() ?? '');
    off = got[got.length - 1]!.offset + 1;
  }
  return out;
}

test('DeleteTopics racing CreateTopics and producers loses no acknowledged record of the new incarnation nor its definition (30 rounds)', { timeout: 120_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'topic-life-')), 'data');
  let server = await start(dataDir);
  const port = server.port('kafka')!;
  const admin1 = client(port, 'a1').admin();
  const admin2 = client(port, 'a2').admin();
  const producer = client(port, 'p1').producer({ allowAutoTopicCreation: false });
  const racer = client(port, 'p2').producer({ allowAutoTopicCreation: true });
  await Promise.all([admin1.connect(), admin2.connect(), producer.connect(), racer.connect()]);
  const ROUNDS = 30;
  const acked = new Map<string, string[]>();
  for (let i = 0; i < ROUNDS; i++) {
    const topic = `life-${i}`;
    await admin1.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await producer.send({ topic, messages: Array.from({ length: 20 }, (_, k) => ({ value: `old-${i}-${k}` })) });
    // The race: a delete, a create from another connection, and a producer that may auto-create the topic.
    await Promise.allSettled([
      admin1.deleteTopics({ topics: [topic] }),
      admin2.createTopics({ topics: [{ topic, numPartitions: 1 }] }),
      racer.send({ topic, messages: [{ value: `race-${i}` }] }),
      (async () => {
        await new Promise((r) => setImmediate(r));
        await admin2.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      })(),
    ]);
    // Whoever won, a topic of that name exists once the last create is answered; what is acknowledged now
    // belongs to it.
    await admin2.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const values = Array.from({ length: 20 }, (_, k) => `new-${i}-${k}`);
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
    acked.set(topic, values);
  }
  await Promise.all([admin1.disconnect(), admin2.disconnect(), producer.disconnect(), racer.disconnect()]);
  const check = async (when: string) => {
    for (const [topic, values] of acked) {
      assert.ok(server.broker.findStream('/', topic), `${when}: topic ${topic} exists`);
      const got = await valuesOf(server, topic);
      for (const v of values) assert.ok(got.includes(v), `${when}: ${topic} lost acknowledged record ${v}`);
      const old = got.filter((v) => v.startsWith('old-'));
      assert.deepEqual(old, [], `${when}: ${topic} holds records of a deleted incarnation`);
    }
  };
  await check('before restart');
  await server.close();
  server = await start(dataDir);
  await check('after restart');
  await server.close();
});

test('AMQP stream queue declare/delete racing Kafka CreateTopics/DeleteTopics of one name: consistent after a restart', { timeout: 120_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'topic-life-')), 'data');
  let server = await start(dataDir);
  const admin = client(server.port('kafka')!, 'a1').admin();
  const admin2 = client(server.port('kafka')!, 'a2').admin();
  await Promise.all([admin.connect(), admin2.connect()]);
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${server.port('amqp')}`);
  const conn2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${server.port('amqp')}`);
  const streamArgs = { durable: true, arguments: { 'x-queue-type': 'stream' } };
  const channel = async (c: amqp.ChannelModel) => {
    const ch = await c.createConfirmChannel();
    ch.on('error', () => undefined);
    return ch;
  };
  const ROUNDS = 20;
  const expected = new Map<string, string[]>();
  for (let i = 0; i < ROUNDS; i++) {
    const name = `mixed-${i}`;
    const [cha, chb] = await Promise.all([channel(conn), channel(conn2)]);
    await cha.assertQueue(name, streamArgs);
    for (let k = 0; k < 5; k++) cha.sendToQueue(name, Buffer.from(`old-${i}-${k}`));
    await cha.waitForConfirms();
    // Every definition change raced against itself and against the other protocol's.
    await Promise.allSettled([
      cha.deleteQueue(name),
      admin.deleteTopics({ topics: [name] }),
      chb.assertQueue(name, streamArgs),
      admin2.createTopics({ topics: [{ topic: name, numPartitions: 1 }] }),
    ]);
    // Settle on a known last incarnation: delete whatever exists, then create it from one side.
    await Promise.allSettled([cha.deleteQueue(name), admin.deleteTopics({ topics: [name] })]);
    const ch = await channel(conn);
    if (i % 2 === 0) await ch.assertQueue(name, streamArgs);
    else await admin2.createTopics({ topics: [{ topic: name, numPartitions: 1 }] });
    const values = Array.from({ length: 5 }, (_, k) => `new-${i}-${k}`);
    for (const v of values) ch.sendToQueue(name, Buffer.from(v));
    await ch.waitForConfirms();
    expected.set(name, values);
    await Promise.allSettled([cha.close(), chb.close(), ch.close()]);
  }
  await Promise.all([admin.disconnect(), admin2.disconnect(), conn.close(), conn2.close()]);
  const check = async (when: string) => {
    for (const [name, values] of expected) {
      assert.ok(server.broker.findStream('/', name), `${when}: stream ${name} exists`);
      assert.deepEqual(await valuesOf(server, name), values, `${when}: stream ${name} holds exactly its last incarnation's records`);
    }
  };
  await check('before restart');
  await server.close();
  server = await start(dataDir);
  await check('after restart');
  await server.close();
});
