// A deleted topic takes its committed offsets with it (as Kafka's coordinator removes them): a new topic of
// the same name is consumed from its start, not from the old topic's committed positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

test('committed offsets of a deleted topic do not apply to a new topic of the same name, also after a restart', { timeout: 60_000 }, async () => {
  configureLogger('silent');
  const dataDir = join(mkdtempSync(join(tmpdir(), 'kofd-')), 'data');
  const config = { ...defaultConfig, dataDir, host: '127.0.0.1', kafkaPort: 0, httpPort: 'off', amqpPort: 'off', mqttPort: 'off', stompPort: 'off', fsync: 'never' } as const;
  let server = await startServer(config);
  const admin = () => new kafkajs.Kafka({ clientId: 'ofd', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: kafkajs.logLevel.NOTHING }).admin();
  let a = admin();
  try {
    await a.connect();
    await a.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }, { topic: 'other', numPartitions: 1 }] });
    await a.setOffsets({ groupId: 'app', topic: 'orders', partitions: [{ partition: 0, offset: '500' }, { partition: 1, offset: '7' }] });
    await a.setOffsets({ groupId: 'app', topic: 'other', partitions: [{ partition: 0, offset: '3' }] });
    await a.deleteTopics({ topics: ['orders'] });
    await a.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] });
    const offsets = async () => (await a.fetchOffsets({ groupId: 'app', topics: ['orders', 'other'] })).map((t) => [t.topic, t.partitions.map((p) => p.offset).join(',')]);
    assert.deepEqual(await offsets(), [['orders', '-1,-1'], ['other', '3']]);
    await a.disconnect();
    await server.close();
    server = await startServer(config);
    a = admin();
    await a.connect();
    assert.deepEqual(await offsets(), [['orders', '-1,-1'], ['other', '3']]);
  } finally {
    await a.disconnect().catch(() => undefined);
    await server.close();
  }
});
