// Produce validation that needs the records: header names starting with `jx.` are reserved for Junction
// (docs/interop.md) and refused with INVALID_RECORD and one error per record (Produce v8 record_errors),
// in plain and compressed batches; a compressed batch that does not decompress is CORRUPT_MESSAGE, one
// that would decompress past Limits.decompressedBytesMax is RECORD_LIST_TOO_LARGE. Nothing refused is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch, type RecordInput } from '../../src/storage/log/record-batch.js';
import { Compression } from '../../src/storage/log/compression.js';
import { RawKafkaClient } from './raw-client.js';

type PartitionRes = { errorCode: number; baseOffset: bigint; errorMessage: string | null; recordErrors: Array<{ batchIndex: number; batchIndexErrorMessage: string | null }> };

/** A batch whose records section is replaced by `payload`, marked with `codec`, with a valid CRC. */
function batchWithPayload(codec: number, payload: Buffer): Buffer {
  const head = Buffer.from(encodeBatch([{ key: null, value: Buffer.from('x'), timestamp: 1 }]).subarray(0, 61));
  const b = Buffer.concat([head, payload]);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt16BE(codec, 21);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

/** An LZ4 frame header that declares 1 GiB of content, then the end mark. */
function lz4Bomb(): Buffer {
  const f = Buffer.alloc(4 + 2 + 8 + 1 + 4);
  f.writeUInt32LE(0x184d2204, 0);
  f[4] = 0x40 | 0x08; // version 01, content size present
  f[5] = 0x70; // 4 MiB blocks
  f.writeUInt32LE(0, 6);
  f.writeUInt32LE(0x40, 10); // 2^38 bytes
  return f;
}

test('a Produce whose records carry jx. header names is refused with INVALID_RECORD and an error per record; bad compressed batches are refused; nothing refused is stored', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kval-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  const stream = await server.broker.createStream('/', 'val', { partitions: 1 });
  const c = await RawKafkaClient.connect(server.port('kafka')!);
  const produce = async (records: Buffer): Promise<PartitionRes> => {
    const res = await c.request<{ responses: Array<{ partitionResponses: PartitionRes[] }> }>(0, 8, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'val', partitionData: [{ index: 0, records }] }] });
    return res.responses[0]!.partitionResponses[0]!;
  };
  const recs = (poison: number[]): RecordInput[] =>
    Array.from({ length: 4 }, (_, i) => ({
      key: null,
      value: Buffer.from(`v${i}`),
      timestamp: 1,
      headers: poison.includes(i) ? [{ key: 'trace', value: Buffer.from('t') }, { key: i === 1 ? 'jx.p' : 'jx.custom', value: Buffer.from('garbage') }] : [{ key: 'x-jx.ok', value: Buffer.from('not reserved') }],
    }));

  for (const compression of [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4]) {
    const refused = await produce(encodeBatch(recs([1, 3]), { compression }));
    assert.equal(refused.errorCode, 87, `codec ${compression}: INVALID_RECORD`);
    assert.deepEqual(refused.recordErrors.map((e) => e.batchIndex), [1, 3]);
    assert.match(refused.recordErrors[0]!.batchIndexErrorMessage!, /jx\.p.*reserved/);
    assert.match(refused.recordErrors[1]!.batchIndexErrorMessage!, /jx\.custom/);
  }
  assert.equal(stream.latestOffset(0), 0, 'nothing refused was stored');

  // A header that merely contains "jx." is not reserved.
  const ok = await produce(encodeBatch(recs([]), { compression: Compression.Gzip }));
  assert.deepEqual([ok.errorCode, ok.baseOffset], [0, 0n]);

  const corrupt = await produce(batchWithPayload(Compression.Gzip, Buffer.from('definitely not gzip')));
  assert.equal(corrupt.errorCode, 2, 'a compressed batch that does not decompress: CORRUPT_MESSAGE');
  const bomb = await produce(batchWithPayload(Compression.Lz4, lz4Bomb()));
  assert.equal(bomb.errorCode, 18, 'a batch that would decompress past the limit: RECORD_LIST_TOO_LARGE');
  assert.equal(stream.latestOffset(0), 4);

  // Pipelined: a compressed batch (checked off the event loop) and plain ones behind it keep their order.
  const big = Array.from({ length: 2000 }, (_, i) => ({ key: null, value: Buffer.from(`compressed ${i} ${'z'.repeat(200)}`), timestamp: 1 }));
  const answers = await Promise.all([
    produce(encodeBatch(big, { compression: Compression.Gzip })),
    produce(encodeBatch([{ key: null, value: Buffer.from('plain-1'), timestamp: 1 }])),
    produce(encodeBatch(recs([2]))),
    produce(encodeBatch([{ key: null, value: Buffer.from('plain-2'), timestamp: 1 }])),
  ]);
  assert.deepEqual(
    answers.map((a) => [a.errorCode, a.baseOffset]),
    [
      [0, 4n],
      [0, 2004n],
      [87, -1n],
      [0, 2005n],
    ],
  );
  c.close();
  await server.close();
});
