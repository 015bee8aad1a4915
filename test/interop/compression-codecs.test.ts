// librdkafka (kcat and confluent-kafka) compresses with every codec it is asked for: it reads gzip, snappy
// and lz4 support from the broker's Produce version range starting at v0 (Junction advertises v0-7, as
// Kafka 4 does, and refuses v0-v2 requests). The batches must be stored with the codec the client chose.
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

const PY = '/usr/bin/python3';
const hasKcat = spawnSync('kcat', ['-V']).status === 0;
const hasConfluent = spawnSync(PY, ['-c', 'import confluent_kafka']).status === 0;
const CODECS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

function run(cmd: string, args: string[], input = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
    p.stdin.end(input);
  });
}

/** The compression attribute of every stored batch of partition 0. */
async function storedCodecs(server: RunningServer, topic: string): Promise<number[]> {
  const { data } = await server.broker.getStream('/', topic).read(0, 0, 16 << 20);
  const out: number[] = [];
  for (let p = 0; p + 61 <= data.length; p += data.readInt32BE(p + 8) + 12) out.push(data.readInt16BE(p + 21) & 7);
  return out;
}

async function withServer(fn: (server: RunningServer, bootstrap: string) => Promise<void>): Promise<void> {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kcodec-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  try {
    await fn(server, `127.0.0.1:${server.port('kafka')}`);
  } finally {
    await server.close();
  }
}

const lines = Array.from({ length: 200 }, (_, i) => `compressible line ${i} ${'x'.repeat(40)}`);

test('kcat -z gzip|snappy|lz4|zstd: batches are stored with the codec the producer chose', { skip: hasKcat ? false : 'kcat not installed', timeout: 60_000 }, async () => {
  await withServer(async (server, b) => {
    for (const [codec, id] of Object.entries(CODECS)) {
      const t = `kcat-${codec}`;
      await server.broker.createStream('/', t, { partitions: 1 });
      const p = await run('kcat', ['-b', b, '-P', '-t', t, '-p', '0', '-z', codec, '-X', 'linger.ms=50'], lines.join('\n') + '\n');
      assert.equal(p.code, 0, p.err);
      const codecs = await storedCodecs(server, t);
      assert.ok(codecs.length > 0);
      assert.deepEqual(new Set(codecs), new Set([id]), `kcat -z ${codec}: stored batch codecs ${codecs.join(',')}`);
    }
  });
});

test('confluent-kafka compression.type=gzip|snappy|lz4|zstd: batches are stored with the codec the producer chose', { skip: hasConfluent ? false : `${PY} has no confluent_kafka`, timeout: 60_000 }, async () => {
  await withServer(async (server, b) => {
    for (const [codec, id] of Object.entries(CODECS)) {
      const t = `ck-${codec}`;
      await server.broker.createStream('/', t, { partitions: 1 });
      const script = [
        'import sys, confluent_kafka',
        `p = confluent_kafka.Producer({'bootstrap.servers': '${b}', 'compression.type': '${codec}', 'linger.ms': 50})`,
        'for line in sys.stdin.read().splitlines(): p.produce(' + `'${t}'` + ', line.encode(), partition=0)',
        'left = p.flush(20)',
        'sys.exit(1 if left else 0)',
      ].join('\n');
      const p = await run(PY, ['-c', script], lines.join('\n'));
      assert.equal(p.code, 0, p.err);
      const codecs = await storedCodecs(server, t);
      assert.ok(codecs.length > 0);
      assert.deepEqual(new Set(codecs), new Set([id]), `confluent-kafka ${codec}: stored batch codecs ${codecs.join(',')}`);
    }
  });
});
