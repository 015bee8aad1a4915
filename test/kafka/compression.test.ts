// kafkajs with every compression codec: gzip (built in), snappy, lz4 and zstd (kafkajs takes their
// implementations as plugins; here they are thin adapters over `snappy`, `lz4-napi` and a zstd WASM build).
// Batches are stored as sent (the attributes keep the codec), served back to kafkajs, and decoded by the
// broker for the other protocols.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { compressSync as snappyCompress } from 'snappy';
import { compressFrameSync as lz4Compress } from 'lz4-napi';
import { init as zstdInit, compress as zstdCompress } from '@bokuweb/zstd-wasm';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { codecFor } from '../../src/storage/log/compression.js';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs;

interface Encoder {
  buffer: Buffer;
}

function plugin(type: number, compress: (b: Buffer) => Buffer) {
  return () => ({
    compress: async (encoder: Encoder) => compress(encoder.buffer),
    decompress: async (buffer: Buffer) => codecFor(type)!.decompress(buffer),
  });
}

test('kafkajs produces and consumes with gzip, snappy, lz4 and zstd; batches are stored as sent and decodable by the broker', { timeout: 60_000 }, async () => {
  configureLogger('silent');
  await zstdInit();
  CompressionCodecs[CompressionTypes.Snappy] = plugin(2, (b) => snappyCompress(b));
  CompressionCodecs[CompressionTypes.LZ4] = plugin(3, (b) => lz4Compress(b));
  CompressionCodecs[CompressionTypes.ZSTD] = plugin(4, (b) => Buffer.from(zstdCompress(b, 3)));
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kcodec-')), 'data'), host: '127.0.0.1', kafkaPort: 0, httpPort: 'off', amqpPort: 'off', fsync: 'never' });
  const kafka = new Kafka({ clientId: 'codecs', brokers: [`127.0.0.1:${server.port('kafka')}`], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const codecs = [
    ['gzip', CompressionTypes.GZIP, 1],
    ['snappy', CompressionTypes.Snappy, 2],
    ['lz4', CompressionTypes.LZ4, 3],
    ['zstd', CompressionTypes.ZSTD, 4],
  ] as const;
  const N = 300;
  for (const [name, type, bits] of codecs) {
    const topic = `codec-${name}`;
    const messages = Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: `${name} value ${i} `.repeat(5), headers: { h: `v${i}` } }));
    for (let i = 0; i < N; i += 100) await producer.send({ topic, compression: type, messages: messages.slice(i, i + 100) });

    const consumer = kafka.consumer({ groupId: `g-${name}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: Array<{ key: string; value: string; h: string }> = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push({ key: message.key!.toString(), value: message.value!.toString(), h: message.headers!.h!.toString() });
            if (got.length === N) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    assert.deepEqual(got, messages.map((m) => ({ key: m.key, value: m.value, h: m.headers.h })), `${name}: kafkajs reads back what it wrote`);

    // Stored as sent: each batch keeps its codec in the attributes' low bits.
    const stream = server.broker.getStream('/', topic);
    const raw = (await stream.read(0, 0, 1 << 20)).data;
    let batches = 0;
    for (let p = 0; p < raw.length; p += raw.readInt32BE(p + 8) + 12, batches++) {
      assert.equal(raw.readInt16BE(p + 21) & 7, bits, `${name}: batch ${batches} is stored compressed`);
    }
    assert.equal(batches, 3);
    // And the broker decodes it for the other protocols.
    const decoded = await stream.readMessages(0, 0, N);
    assert.equal(decoded.length, N);
    assert.equal(decoded[7]!.message.value!.toString(), messages[7]!.value, `${name}: decoded by the broker`);
  }
  await producer.disconnect();
  await server.close();
});
