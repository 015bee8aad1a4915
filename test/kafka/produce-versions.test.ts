// Produce is advertised from v0 (as Kafka 4 does, for librdkafka's compression checks) but only v3+ is
// accepted: v0-v2 get UNSUPPORTED_VERSION for every partition and store nothing; with acks=0, where no
// answer is possible, the connection closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import { RawKafkaClient } from './raw-client.js';

test('ApiVersions advertises Produce from v0; Produce v0-v2 is refused with UNSUPPORTED_VERSION and stores nothing', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kpv-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  await server.broker.createStream('/', 'pv', { partitions: 1 });
  const c = await RawKafkaClient.connect(server.port('kafka')!);
  const versions = await c.request<{ apiKeys: Array<{ apiKey: number; minVersion: number; maxVersion: number }> }>(18, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
  const produce = versions.apiKeys.find((k) => k.apiKey === 0)!;
  assert.deepEqual([produce.minVersion, produce.maxVersion], [0, 8]);
  const records = encodeBatch([{ key: null, value: Buffer.from('v'), timestamp: 1 }]);
  for (const v of [0, 1, 2]) {
    const res = await c.request<{ responses: Array<{ partitionResponses: Array<{ errorCode: number }> }> }>(0, v, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'pv', partitionData: [{ index: 0, records }] }] });
    assert.equal(res.responses[0]!.partitionResponses[0]!.errorCode, 35, `Produce v${v}: UNSUPPORTED_VERSION`);
  }
  const ok = await c.request<{ responses: Array<{ partitionResponses: Array<{ errorCode: number; baseOffset: bigint }> }> }>(0, 3, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'pv', partitionData: [{ index: 0, records }] }] });
  assert.deepEqual([ok.responses[0]!.partitionResponses[0]!.errorCode, ok.responses[0]!.partitionResponses[0]!.baseOffset], [0, 0n], 'v3 is accepted; nothing before it was stored');
  // acks=0 allows no answer: the connection closes.
  void c.request(0, 2, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'pv', partitionData: [{ index: 0, records }] }] }).catch(() => undefined);
  await c.closed;
  assert.equal(server.broker.getStream('/', 'pv').latestOffset(0), 1);
  await server.close();
});
