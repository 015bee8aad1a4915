// librdkafka (kcat, confluent-kafka) consuming batches of 600 KB from two partitions with
// fetch.max.bytes=1,000,000: a response over its receive.message.max.bytes makes it drop the connection
// and fetch the same again, forever. Junction keeps each response within max_bytes (KIP-74).
// Skipped when kcat or /usr/bin/python3's confluent_kafka is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';

const PY = '/usr/bin/python3';
const hasKcat = spawnSync('kcat', ['-V']).status === 0;
const hasConfluent = spawnSync(PY, ['-c', 'import confluent_kafka']).status === 0;
/** Batches per partition, records per batch, bytes per record: 600 KB batches. */
const BATCHES = 4;
const RECORDS = 6;
const RECORD_BYTES = 100_000;
const TOTAL = 2 * BATCHES * RECORDS;

/** Runs a client; kills it after `ms` (a client looping on an oversize response never ends by itself). */
function run(cmd: string, args: string[], ms: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function withTopic(topic: string, fn: (bootstrap: string) => Promise<void>): Promise<void> {
  configureLogger('silent');
  const server: RunningServer = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kfl-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  try {
    const s = await server.broker.createStream('/', topic, { partitions: 2 });
    for (let p = 0; p < 2; p++) {
      for (let b = 0; b < BATCHES; b++) {
        await s.appendBatches(p, encodeBatch(Array.from({ length: RECORDS }, (_, i) => ({ key: null, value: Buffer.alloc(RECORD_BYTES, 97 + ((b * RECORDS + i) % 26)), timestamp: 1 }))));
      }
    }
    await fn(`127.0.0.1:${server.port('kafka')}`);
  } finally {
    await server.close();
  }
}

test('kcat with fetch.max.bytes=1000000 consumes 600 KB batches from two partitions to the end', { skip: hasKcat ? false : 'kcat not installed', timeout: 60_000 }, async () => {
  await withTopic('kfl', async (b) => {
    const r = await run('kcat', ['-b', b, '-C', '-t', 'kfl', '-o', 'beginning', '-e', '-q', '-f', '%p %o\\n', '-X', 'fetch.max.bytes=1000000', '-X', 'receive.message.max.bytes=1000512'], 20_000);
    assert.equal(r.code, 0, `kcat ended with ${r.code}: ${r.err.slice(-500)}`);
    assert.equal(r.out.trim().split('\n').length, TOTAL);
  });
});

test('confluent-kafka with fetch.max.bytes=1000000 consumes 600 KB batches from two partitions to the end', { skip: hasConfluent ? false : `${PY} has no confluent_kafka`, timeout: 60_000 }, async () => {
  await withTopic('ckfl', async (b) => {
    const script = [
      'import sys, time, confluent_kafka',
      `c = confluent_kafka.Consumer({'bootstrap.servers': '${b}', 'group.id': 'ckfl', 'auto.offset.reset': 'earliest', 'fetch.max.bytes': 1000000, 'receive.message.max.bytes': 1000512, 'enable.auto.commit': False})`,
      "c.subscribe(['ckfl'])",
      'n = 0',
      'deadline = time.time() + 15',
      `while n < ${TOTAL} and time.time() < deadline:`,
      '    m = c.poll(0.5)',
      '    if m is not None and m.error() is None: n += 1',
      'c.close()',
      'print(n)',
    ].join('\n');
    const r = await run(PY, ['-c', script], 30_000);
    assert.equal(r.code, 0, r.err.slice(-500));
    assert.equal(Number(r.out.trim()), TOTAL);
  });
});
