// Idempotent producers: producer ids are unique across connections and restarts, and a retry of any of a
// producer's last 5 batches (5 requests in flight, as Java clients and librdkafka keep) is answered with
// its original offsets, before and after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import { batchesOf, fetchBody, RawKafkaClient } from './raw-client.js';

const INIT_PRODUCER_ID = 22;
const PRODUCE = 0;
const FETCH = 1;

function start(dataDir: string): Promise<RunningServer> {
  return startServer({ ...defaultConfig, dataDir, host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
}

async function initProducerId(c: RawKafkaClient): Promise<bigint> {
  const res = await c.request<{ errorCode: number; producerId: bigint }>(INIT_PRODUCER_ID, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  assert.equal(res.errorCode, 0);
  return res.producerId;
}

function produce(c: RawKafkaClient, topic: string, producerId: bigint, baseSequence: number, values: string[]) {
  const records = encodeBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1 })),
    { producerId, producerEpoch: 0, baseSequence },
  );
  return c
    .request<{ responses: Array<{ partitionResponses: Array<{ errorCode: number; baseOffset: bigint }> }> }>(PRODUCE, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] })
    .then((r) => r.responses[0]!.partitionResponses[0]!);
}

async function recordCount(c: RawKafkaClient, topic: string): Promise<number> {
  const res = await c.request<{ responses: Array<{ partitions: Array<{ records: Buffer }> }> }>(FETCH, 4, fetchBody(topic, [{ partition: 0, offset: 0n, maxBytes: 1 << 20 }]));
  return batchesOf(res.responses[0]!.partitions[0]!.records).reduce((n, b) => n + b.count, 0);
}

test('concurrent InitProducerId requests on several connections get distinct ids, and larger ones after a restart', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const dataDir = join(mkdtempSync(join(tmpdir(), 'kpid-')), 'data');
  let server = await start(dataDir);
  await server.broker.createStream('/', 'pids', { partitions: 1 });
  let clients = await Promise.all(Array.from({ length: 4 }, () => RawKafkaClient.connect(server.port('kafka')!)));
  // 20 requests at once, 5 pipelined on each of 4 connections.
  const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => initProducerId(clients[i % 4]!)));
  assert.equal(new Set(ids).size, 20, `20 distinct ids: ${ids.join(',')}`);
  // Two producers with distinct ids both write sequence 0: neither is taken for the other's duplicate.
  const a = await produce(clients[0]!, 'pids', ids[0]!, 0, ['from-a']);
  const b = await produce(clients[1]!, 'pids', ids[1]!, 0, ['from-b']);
  assert.equal(a.errorCode, 0);
  assert.equal(b.errorCode, 0);
  assert.notEqual(a.baseOffset, b.baseOffset, "the second producer's batch is appended, not answered as a duplicate");
  assert.equal(await recordCount(clients[2]!, 'pids'), 2);
  for (const c of clients) c.close();
  await server.close();

  server = await start(dataDir);
  clients = await Promise.all(Array.from({ length: 2 }, () => RawKafkaClient.connect(server.port('kafka')!)));
  const after = await Promise.all(Array.from({ length: 6 }, (_, i) => initProducerId(clients[i % 2]!)));
  const maxBefore = ids.reduce((m, x) => (x > m ? x : m), -1n);
  for (const id of after) assert.ok(id > maxBefore, `id ${id} after the restart is larger than every id before (${maxBefore})`);
  assert.equal(new Set(after).size, after.length);
  for (const c of clients) c.close();
  await server.close();
});

test('an idempotent producer retrying any of its last 5 in-flight batches gets the original offsets, also after a restart', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const dataDir = join(mkdtempSync(join(tmpdir(), 'kidem5-')), 'data');
  let server = await start(dataDir);
  await server.broker.createStream('/', 'idem5', { partitions: 1 });
  let c = await RawKafkaClient.connect(server.port('kafka')!);
  const pid = await initProducerId(c);
  // Five requests in flight at once, two records each: sequences 0, 2, 4, 6, 8.
  const first = await Promise.all([0, 1, 2, 3, 4].map((i) => produce(c, 'idem5', pid, i * 2, [`m${i}a`, `m${i}b`])));
  for (const r of first) assert.equal(r.errorCode, 0);
  // The producer did not see the answer to the 2nd one and retries it (and the 1st, the oldest remembered).
  const retry2 = await produce(c, 'idem5', pid, 2, ['m1a', 'm1b']);
  assert.deepEqual([retry2.errorCode, retry2.baseOffset], [0, first[1]!.baseOffset], 'the retry of the 2nd batch gets its original offset');
  const retry1 = await produce(c, 'idem5', pid, 0, ['m0a', 'm0b']);
  assert.deepEqual([retry1.errorCode, retry1.baseOffset], [0, first[0]!.baseOffset]);
  assert.equal(await recordCount(c, 'idem5'), 10, 'nothing appended twice');
  c.close();
  await server.close();

  // After a restart the last 5 batches are rebuilt from the log's tail.
  server = await start(dataDir);
  c = await RawKafkaClient.connect(server.port('kafka')!);
  const again = await produce(c, 'idem5', pid, 4, ['m2a', 'm2b']);
  assert.deepEqual([again.errorCode, again.baseOffset], [0, first[2]!.baseOffset], 'the retry of the 3rd batch after a restart gets its original offset');
  const next = await produce(c, 'idem5', pid, 10, ['m5a']);
  assert.deepEqual([next.errorCode, next.baseOffset], [0, 10n]);
  assert.equal(await recordCount(c, 'idem5'), 11);
  c.close();
  await server.close();
});
