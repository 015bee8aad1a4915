// Cooperative rebalancing (librdkafka's cooperative-sticky through python3-confluent-kafka): a member that
// keeps its partitions while the group rebalances keeps committing, and Kafka accepts those commits while
// the group is PreparingRebalance. Skipped without /usr/bin/python3 and confluent_kafka.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

const PY = '/usr/bin/python3';
const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/interop/python_coop.py');
const hasConfluent = spawnSync(PY, ['-c', 'import confluent_kafka']).status === 0;

test('confluent-kafka cooperative-sticky: commits during a rebalance succeed', { skip: hasConfluent ? false : `${PY} has no confluent_kafka`, timeout: 120_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'coop-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  try {
    const kafka = new kafkajs.Kafka({ clientId: 'coop', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'coop', numPartitions: 4 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const N = 20_000;
    for (let i = 0; i < N; i += 2000) await producer.send({ topic: 'coop', messages: Array.from({ length: 2000 }, (_, k) => ({ partition: (i + k) % 4, value: `c${i + k}` })) });
    await producer.disconnect();
    const r = await new Promise<{ code: number | null; out: string; err: string }>((done) => {
      const p = spawn(PY, [script, `127.0.0.1:${server.port('kafka')}`, 'coop', String(N)]);
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => done({ code, out, err }));
    });
    assert.equal(r.code, 0, r.err.slice(-2000));
    const res = JSON.parse(r.out.trim().split('\n').at(-1)!) as { distinct: number; commits: number; errors: Record<string, number>; assignment: number[] };
    assert.equal(res.distinct, N);
    // A commit sent with the generation that a JoinGroup answered a moment earlier has replaced gets
    // ILLEGAL_GENERATION from Kafka too (librdkafka issue 4059); a commit refused because the group is
    // rebalancing must not happen: Kafka accepts commits of current members while PreparingRebalance.
    assert.deepEqual(Object.keys(res.errors).filter((e) => e !== 'ILLEGAL_GENERATION'), [], `commit errors: ${JSON.stringify(res)}`);
    assert.ok(res.commits > 0);
    assert.equal(res.assignment.reduce((a, b) => a + b, 0), 4, `both members share the 4 partitions: ${JSON.stringify(res)}`);
    assert.ok(res.assignment.every((n) => n > 0), JSON.stringify(res));
  } finally {
    await server.close();
  }
});
