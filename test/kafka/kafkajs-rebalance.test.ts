// kafkajs across a rebalance: a second member joins while the first is consuming. kafkajs commits what it
// has processed when its heartbeat reports REBALANCE_IN_PROGRESS; Kafka accepts that commit (the group is
// PreparingRebalance), so nothing already processed is processed again after the rebalance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

const { Kafka, logLevel } = kafkajs;

test('kafkajs: a member joining mid-consumption does not make processed messages be processed again', { timeout: 90_000 }, async (t) => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kreb-')), 'data'), host: '127.0.0.1', kafkaPort: 0, httpPort: 'off', amqpPort: 'off', mqttPort: 'off', stompPort: 'off', fsync: 'never', groupInitialRebalanceDelayMs: 0 });
  const kafka = new Kafka({ clientId: 'reb', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const admin = kafka.admin();
  const producer = kafka.producer();
  const N = 10;
  const processed = new Map<string, number>();
  const consumers = [1, 2].map(() => kafka.consumer({ groupId: 'reb', sessionTimeout: 10_000, heartbeatInterval: 100, rebalanceTimeout: 20_000 }));
  const waitFor = async (cond: () => Promise<boolean> | boolean, what: string) => {
    const end = Date.now() + 60_000;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify([...processed])}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'reb', numPartitions: 2 }] });
    await producer.connect();
    await producer.send({ topic: 'reb', messages: Array.from({ length: N }, (_, i) => ({ partition: i % 2, value: `m${i}` })) });
    let secondStarted: Promise<void> | undefined;
    const startSecond = async () => {
      await consumers[1]!.connect();
      await consumers[1]!.subscribe({ topic: 'reb', fromBeginning: true });
      await consumers[1]!.run({ eachMessage: async ({ message }) => void processed.set(message.value!.toString(), (processed.get(message.value!.toString()) ?? 0) + 1) });
    };
    await consumers[0]!.connect();
    await consumers[0]!.subscribe({ topic: 'reb', fromBeginning: true });
    await consumers[0]!.run({
      eachMessage: async ({ message }) => {
        const v = message.value!.toString();
        processed.set(v, (processed.get(v) ?? 0) + 1);
        // After the third message the second member joins; each message then takes long enough for the
        // first member's heartbeats to learn of the rebalance in the middle of its batch.
        if ([...processed.values()].reduce((a, b) => a + b, 0) === 3) secondStarted = startSecond();
        await new Promise((r) => setTimeout(r, 250));
      },
    });
    await waitFor(() => processed.size === N, 'every message processed');
    await waitFor(async () => {
      const c = await admin.fetchOffsets({ groupId: 'reb', topics: ['reb'] });
      return c[0]!.partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0) === N;
    }, 'offsets committed to the end');
    await secondStarted;
    await Promise.all(consumers.map((c) => c.disconnect()));
    const total = [...processed.values()].reduce((a, b) => a + b, 0);
    const again = [...processed].filter(([, n]) => n > 1).map(([v]) => v);
    t.diagnostic(`processed ${total} times for ${N} messages`);
    // At least once allows the message in flight at the rebalance (one per partition) to come again;
    // nothing processed and committed before it may.
    assert.ok(again.length <= 2, `processed ${total} times for ${N} messages; again: ${again.join(', ')}`);
  } finally {
    await Promise.allSettled([...consumers.map((c) => c.disconnect()), producer.disconnect(), admin.disconnect()]);
    await server.close();
  }
});
