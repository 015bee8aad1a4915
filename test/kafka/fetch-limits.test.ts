// Fetch byte limits (KIP-74) and a topic deleted under a long poll, with raw frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import { batchesOf, fetchBody, RawKafkaClient } from './raw-client.js';

const FETCH = 1;
type FetchRes = { responses: Array<{ partitions: Array<{ partitionIndex: number; errorCode: number; records: Buffer }> }> };

function start(): Promise<RunningServer> {
  configureLogger('silent');
  return startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kfetch-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
}

/** One batch holding one record of `bytes` bytes. */
const batchOf = (bytes: number, fill: number) => encodeBatch([{ key: null, value: Buffer.alloc(bytes, fill), timestamp: 1 }]);

test('a Fetch response stays within max_bytes and partition_max_bytes; only the first batch of the first partition with data may exceed them', { timeout: 30_000 }, async () => {
  const server = await start();
  const s = await server.broker.createStream('/', 'fl', { partitions: 3 });
  for (let p = 0; p < 3; p++) for (let i = 0; i < 3; i++) await s.appendBatches(p, batchOf(400_000, p * 3 + i));
  const big = await server.broker.createStream('/', 'fbig', { partitions: 2 });
  await big.appendBatches(1, batchOf(1_500_000, 1));
  await big.appendBatches(1, batchOf(1000, 2));
  const c = await RawKafkaClient.connect(server.port('kafka')!);
  const fetch = async (topic: string, parts: Array<{ partition: number; offset: bigint; maxBytes: number }>, maxBytes: number) => {
    const res = await c.request<FetchRes>(FETCH, 11, fetchBody(topic, parts, { maxBytes }));
    return res.responses[0]!.partitions.map((p) => ({ error: p.errorCode, bytes: p.records.length, batches: batchesOf(p.records) }));
  };

  // Three partitions of 3 × 400 KB against max_bytes 1,000,000: two batches of partition 0, nothing more.
  const all = [0, 1, 2].map((partition) => ({ partition, offset: 0n, maxBytes: 1 << 20 }));
  const r1 = await fetch('fl', all, 1_000_000);
  const total = r1.reduce((n, p) => n + p.bytes, 0);
  assert.ok(total <= 1_000_000, `records in the response: ${total} bytes, max_bytes 1,000,000`);
  assert.deepEqual(r1.map((p) => p.batches.length), [2, 0, 0]);
  for (const p of r1) for (const b of p.batches) assert.ok(b.bytes > 400_000, 'whole batches only');

  // partition_max_bytes 500,000: one batch from each partition, as long as the total allows.
  const r2 = await fetch('fl', [0, 1, 2].map((partition) => ({ partition, offset: 0n, maxBytes: 500_000 })), 1_000_000);
  assert.deepEqual(r2.map((p) => p.batches.length), [1, 1, 0]);

  // A batch larger than every limit is returned alone when it is the first data of the response.
  const r3 = await fetch('fbig', [0, 1].map((partition) => ({ partition, offset: 0n, maxBytes: 100_000 })), 1_000_000);
  assert.deepEqual(r3.map((p) => p.batches.map((b) => b.count)), [[], [1]]);
  assert.ok(r3[1]!.bytes > 1_500_000 && r3[1]!.bytes < 1_501_000, 'the oversize first batch alone');
  // ... but not after another partition's data.
  const r4 = await c.request<FetchRes>(
    FETCH,
    11,
    { ...fetchBody('fl', [{ partition: 0, offset: 0n, maxBytes: 500_000 }], { maxBytes: 1_000_000 }), topics: [...fetchBody('fl', [{ partition: 0, offset: 0n, maxBytes: 500_000 }]).topics, ...fetchBody('fbig', [{ partition: 1, offset: 0n, maxBytes: 2_000_000 }]).topics] },
  );
  assert.deepEqual(r4.responses.map((t) => batchesOf(t.partitions[0]!.records).length), [1, 0]);
  c.close();
  await server.close();
});

test('a topic deleted while a consumer long-polls it answers UNKNOWN_TOPIC_OR_PARTITION and the connection stays open', { timeout: 30_000 }, async () => {
  const server = await start();
  const port = server.port('kafka')!;
  const s = await server.broker.createStream('/', 'gone', { partitions: 2 });
  await s.appendBatches(0, batchOf(10, 1));
  const c = await RawKafkaClient.connect(port);
  let closed = false;
  void c.closed.then(() => (closed = true));
  // Both partitions at their end: the fetch waits for data.
  const pending = c.request<FetchRes>(FETCH, 11, fetchBody('gone', [{ partition: 0, offset: 1n, maxBytes: 1 << 20 }, { partition: 1, offset: 0n, maxBytes: 1 << 20 }], { maxWaitMs: 20_000, minBytes: 1 }));
  await new Promise((r) => setTimeout(r, 100));
  const kafka = new kafkajs.Kafka({ clientId: 'admin', brokers: [`127.0.0.1:${port}`], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: ['gone'] });
  await admin.disconnect();
  const res = await pending;
  assert.deepEqual(res.responses[0]!.partitions.map((p) => p.errorCode), [3, 3], 'UNKNOWN_TOPIC_OR_PARTITION for each partition');
  // The connection still answers.
  const again = await c.request<FetchRes>(FETCH, 11, fetchBody('gone', [{ partition: 0, offset: 0n, maxBytes: 1 << 20 }]));
  assert.equal(again.responses[0]!.partitions[0]!.errorCode, 3);
  assert.equal(closed, false);
  c.close();
  await server.close();
});
