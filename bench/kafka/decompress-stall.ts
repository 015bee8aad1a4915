// Event-loop stalls from decompressing large compressed batches: a Kafka client produces one compressed
// batch of ~64 MiB of records (gzip, zstd), then the broker decodes it the way an AMQP stream consumer's
// read does (Stream.readMessages). Meanwhile a second connection pings with ApiVersions back to back; the
// table gives the longest ping round trip in each phase: how long every other connection was kept waiting.
// (The broker and the clients share one process, so a stall shows as a ping that cannot be answered.)
// Usage: npm run build && node dist/bench/kafka/decompress-stall.js [MiB]   (results: docs/benchmarks.md)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { init as zstdInit, compress as zstdCompress } from '@bokuweb/zstd-wasm';
import { crc32c } from '@node-rs/crc32';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import { RawKafkaClient } from '../../test/kafka/raw-client.js';

const MIB = Number(process.argv[2] ?? 64);
const RECORD_BYTES = 256 * 1024;

/** Records of mildly compressible text, as one uncompressed batch. */
function plainBatch(): Buffer {
  const line = Buffer.from(Array.from({ length: 64 }, (_, i) => `record line ${i} with some payload ${(i * 7919) % 1000}\n`).join(''));
  const value = Buffer.alloc(RECORD_BYTES);
  for (let p = 0; p < value.length; p += line.length) line.copy(value, p);
  const n = Math.ceil((MIB * 1024 * 1024) / RECORD_BYTES);
  return encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.concat([Buffer.from(`${i}:`), value]), timestamp: 1 })));
}

/** The same records compressed with `codec` (the records section replaced, CRC recomputed). */
function compressed(plain: Buffer, codec: number, compress: (b: Buffer) => Buffer): Buffer {
  const payload = compress(plain.subarray(61));
  const b = Buffer.concat([plain.subarray(0, 61), payload]);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt16BE(codec, 21);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

/** Runs `work` while pinging; returns its duration and the longest ping round trip, in ms. */
async function measure(ping: RawKafkaClient, work: () => Promise<unknown>): Promise<{ ms: number; pingMax: number }> {
  let stop = false;
  let pingMax = 0;
  const pinger = (async () => {
    while (!stop) {
      const t = performance.now();
      await ping.request(18, 0, {});
      pingMax = Math.max(pingMax, performance.now() - t);
    }
  })();
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  stop = true;
  await pinger;
  return { ms, pingMax };
}

configureLogger('silent');
await zstdInit();
const dir = mkdtempSync(join(tmpdir(), 'kstall-'));
const server = await startServer({ ...defaultConfig, dataDir: join(dir, 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
const port = server.port('kafka')!;
const plain = plainBatch();
const batches: Array<[string, Buffer]> = [
  ['gzip', compressed(plain, 1, (b) => gzipSync(b, { level: 1 }))],
  ['zstd', compressed(plain, 4, (b) => Buffer.from(zstdCompress(b, 1)))],
];
console.log(`| codec | batch MiB (decompressed MiB) | phase | ms | longest ping ms |`);
console.log(`| --- | ---: | --- | ---: | ---: |`);
for (const [name, batch] of batches) {
  const topic = `stall-${name}`;
  const stream = await server.broker.createStream('/', topic, { partitions: 1 });
  const producer = await RawKafkaClient.connect(port);
  const ping = await RawKafkaClient.connect(port);
  const size = `${(batch.length / 2 ** 20).toFixed(1)} (${(plain.length / 2 ** 20).toFixed(0)})`;
  const p = await measure(ping, () => producer.request(0, 7, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] }));
  console.log(`| ${name} | ${size} | produce | ${p.ms.toFixed(0)} | ${p.pingMax.toFixed(1)} |`);
  const r = await measure(ping, () => stream.readMessages(0, 0, 1_000_000));
  console.log(`| ${name} | ${size} | read for another protocol | ${r.ms.toFixed(0)} | ${r.pingMax.toFixed(1)} |`);
  producer.close();
  ping.close();
}
await server.close();
rmSync(dir, { recursive: true, force: true });
