// A resource alarm holds Kafka producers as it holds AMQP publishers, and /api/health names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import { RawKafkaClient } from './raw-client.js';

const { Kafka, logLevel } = kafkajs;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ProduceAnswer = { throttleTimeMs: number; responses: Array<{ partitionResponses: Array<{ errorCode: number; baseOffset: bigint }> }> };

test('a disk alarm holds Kafka Produce (delayed, with throttle time) and /api/health answers 503 naming it', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kalarm-')), 'data'), host: '127.0.0.1', kafkaPort: 0, httpPort: 0, amqpPort: 'off', mqttPort: 'off', stompPort: 'off', fsync: 'never' });
  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${server.port('http')}/api/health`);
    return { status: res.status, body: (await res.json()) as { status: string; alarms: string[]; reason?: string } };
  };
  await server.broker.createStream('/', 'alarmed', { partitions: 1 });
  const stream = server.broker.getStream('/', 'alarmed');
  const ok = await health();
  assert.deepEqual([ok.status, ok.body.status, ok.body.alarms], [200, 'ok', []]);

  await server.resources.setLimits({ diskFreeLimitBytes: Number.MAX_SAFE_INTEGER });
  const h = await health();
  assert.equal(h.status, 503);
  assert.equal(h.body.status, 'alarm');
  assert.deepEqual(h.body.alarms, ['disk']);
  assert.match(h.body.reason!, /disk/);

  const raw = await RawKafkaClient.connect(server.port('kafka')!);
  const records = encodeBatch([{ key: null, value: Buffer.from('held'), timestamp: 1 }]);
  const produce = (version: number, timeoutMs: number) =>
    raw.request<ProduceAnswer>(0, version, { transactionalId: null, acks: -1, timeoutMs, topicData: [{ name: 'alarmed', partitionData: [{ index: 0, records }] }] });
  // Held past its timeout: REQUEST_TIMED_OUT (retriable), nothing written, a back-off in throttle_time_ms.
  const timedOut = await produce(7, 200);
  assert.equal(timedOut.responses[0]!.partitionResponses[0]!.errorCode, 7);
  assert.ok(timedOut.throttleTimeMs > 0);
  assert.equal(stream.latestOffset(0), 0);

  // Held until the alarm clears, then written; v3-v5 report the delay as throttle_time_ms.
  let cleared = false;
  const held = produce(3, 20_000).then((r) => ({ r, cleared }));
  const producer = new Kafka({ clientId: 'alarm', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const sent = producer.send({ topic: 'alarmed', messages: [{ value: 'from kafkajs' }] }).then((r) => ({ r, cleared }));
  await sleep(300);
  assert.equal(stream.latestOffset(0), 0, 'nothing is appended while the alarm holds');
  cleared = true;
  await server.resources.setLimits({ diskFreeLimitBytes: 0 });
  const a = await held;
  assert.ok(a.cleared, 'the raw Produce was answered only after the alarm cleared');
  assert.equal(a.r.responses[0]!.partitionResponses[0]!.errorCode, 0);
  assert.ok(a.r.throttleTimeMs > 0, 'throttle_time_ms reports the delay');
  const k = await sent;
  assert.ok(k.cleared, 'the kafkajs send completed only after the alarm cleared');
  assert.equal(k.r[0]!.errorCode, 0);
  assert.equal(stream.latestOffset(0), 2);
  assert.equal((await health()).status, 200);
  await producer.disconnect();
  raw.close();
  await server.close();
});
