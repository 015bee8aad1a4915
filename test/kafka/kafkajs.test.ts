// kafkajs against a real in-process broker: admin, produce, consume with a group, committed offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

const { Kafka, logLevel } = kafkajs;

async function start(dataDir?: string): Promise<RunningServer> {
  configureLogger('silent');
  return startServer({ ...defaultConfig, dataDir: dataDir ?? join(mkdtempSync(join(tmpdir(), 'kafka-')), 'data'), host: '127.0.0.1', kafkaPort: 0, httpPort: 'off', amqpPort: 'off', mqttPort: 'off', stompPort: 'off', fsync: 'never' });
}

function client(port: number) {
  return new Kafka({ clientId: 'test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

test('kafkajs: create a topic, produce, consume with a group; offsets survive a restart', { timeout: 60_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'kafka-')), 'data');
  let server = await start(dataDir);
  const kafka = client(server.port('kafka')!);
  const admin = kafka.admin();
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] }), true);
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: 'orders' }] });
  const retention = described.resources[0]!.configEntries.find((c) => c.configName === 'retention.ms');
  assert.equal(retention?.configValue, '3600000');
  assert.ok((await admin.listTopics()).includes('orders'));
  const producer = kafka.producer();
  await producer.connect();
  const N = 300;
  for (let i = 0; i < N; i += 100) {
    await producer.send({ topic: 'orders', messages: Array.from({ length: 100 }, (_, k) => ({ key: `k${(i + k) % 7}`, value: `v${i + k}`, headers: { h: 'x' } })) });
  }
  const offsets = await admin.fetchTopicOffsets('orders');
  assert.equal(offsets.reduce((a, o) => a + Number(o.high), 0), N);

  const consumer = kafka.consumer({ groupId: 'g1', sessionTimeout: 10_000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  const seen = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          assert.equal(message.headers?.['h']?.toString(), 'x');
          seen.add(message.value!.toString());
          if (seen.size === N) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  const committed = await admin.fetchOffsets({ groupId: 'g1', topics: ['orders'] });
  assert.equal(committed[0]!.partitions.reduce((a, p) => a + Number(p.offset), 0), N);
  await producer.disconnect();
  await admin.disconnect();
  await server.close();

  server = await start(dataDir);
  const admin2 = client(server.port('kafka')!).admin();
  await admin2.connect();
  const again = await admin2.fetchOffsets({ groupId: 'g1', topics: ['orders'] });
  assert.equal(again[0]!.partitions.reduce((a, p) => a + Number(p.offset), 0), N);
  await admin2.deleteTopics({ topics: ['orders'] });
  assert.ok(!(await admin2.listTopics()).includes('orders'));
  await admin2.disconnect();
  await server.close();
});

test('kafkajs idempotent producer gets a producer id and its sends land exactly once', { timeout: 30_000 }, async () => {
  const server = await start();
  const kafka = client(server.port('kafka')!);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'idem', acks: -1, messages: [{ value: `m${i}` }, { value: `n${i}` }] });
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('idem');
  assert.equal(Number(offsets[0]!.high), 10);
  await admin.disconnect();
  const first = await server.broker.getStream('/', 'idem').read(0, 0, 1 << 20);
  assert.ok(first.data.readBigInt64BE(43) >= 0n, 'batches carry the producer id');
  await server.close();
});

test('kafkajs consumer group of three rebalances as members join and leave; every message consumed', { timeout: 150_000 }, async () => {
  const server = await start();
  const kafka = client(server.port('kafka')!);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'work', numPartitions: 6 }] });
  const seen = new Set<string>();
  const assignments = new Map<string, number>();
  const members = [1, 2, 3].map((i) => {
    const c = kafka.consumer({ groupId: 'trio', sessionTimeout: 15_000, heartbeatInterval: 100, rebalanceTimeout: 20_000 });
    c.on(c.events.GROUP_JOIN, (e) => assignments.set(`c${i}`, (e.payload.memberAssignment['work'] ?? []).length));
    return c;
  });
  const waitFor = async (cond: () => boolean, what: string) => {
    const end = Date.now() + 30_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify([...assignments])}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const producer = kafka.producer();
  try {
    for (const [i, c] of members.entries()) {
      await c.connect();
      await c.subscribe({ topic: 'work', fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => void seen.add(message.value!.toString()) });
      await waitFor(() => assignments.size === i + 1 && [...assignments.values()].reduce((a, b) => a + b, 0) === 6, `${i + 1} members sharing 6 partitions`);
    }
    assert.deepEqual([...assignments.values()], [2, 2, 2]);
    await producer.connect();
    await producer.send({ topic: 'work', messages: Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: `w${i}` })) });
    await waitFor(() => seen.size === 600, 'all 600 messages');
    // One member leaves: the other two take over its partitions.
    assignments.clear();
    await members[2]!.disconnect();
    await waitFor(() => assignments.size === 2 && [...assignments.values()].reduce((a, b) => a + b, 0) === 6, 'two members sharing 6 partitions');
    await producer.send({ topic: 'work', messages: Array.from({ length: 60 }, (_, i) => ({ value: `x${i}` })) });
    await waitFor(() => seen.size === 660, 'the messages after the rebalance');
    await producer.disconnect();
    await members[0]!.disconnect();
    await members[1]!.disconnect();
    await admin.disconnect();
  } finally {
    await Promise.allSettled([producer.disconnect(), ...members.map((m) => m.disconnect()), admin.disconnect()]);
    await server.close();
  }
});
