import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '@node-rs/crc32';
import { checkBatch, decodeBatch, encodeBatch, readBatchHeader, setBatchBaseOffset, setLogAppendTime, type RecordInput } from './record-batch.js';
import { Compression } from './compression.js';

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { nil: null }),
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: fc.option(fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)), { nil: null }) }), { maxLength: 4 }).map((hs) => hs.map((h) => ({ key: h.key, value: h.value }))),
});

test('CRC32C is the Castagnoli polynomial', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('property: encode → check → decode round-trips records, plain, gzip, snappy and lz4', () => {
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 30 }), fc.nat(1e9), fc.constantFrom(Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4), (records, base, compression) => {
      const b = encodeBatch(records, { baseOffset: base, compression });
      assert.deepEqual(checkBatch(b, 0), { ok: true, sizeBytes: b.length });
      const h = readBatchHeader(b);
      assert.equal(h.recordCount, records.length);
      assert.equal(h.lastOffsetDelta, records.length - 1);
      const out = decodeBatch(b);
      out.forEach((r, i) => {
        const src = records[i]!;
        assert.equal(r.offset, base + i);
        assert.equal(r.timestamp, src.timestamp);
        assert.deepEqual(r.key, src.key);
        assert.deepEqual(r.value, src.value);
        assert.deepEqual(r.headers, src.headers);
      });
      setBatchBaseOffset(b, 0, base + 7);
      assert.equal(checkBatch(b, 0).ok, true, 'the base offset is outside the CRC');
      assert.equal(decodeBatch(b)[0]!.offset, base + 7);
    }),
  );
});

test('property: any flipped byte from the magic on (what Kafka protects) is caught; truncation is reported as such', () => {
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (records, at, x) => {
      const b = encodeBatch(records);
      const pos = 16 + (at % (b.length - 16));
      b[pos]! ^= x;
      assert.equal(checkBatch(b, 0).ok, false);
      const t = encodeBatch(records);
      assert.equal((checkBatch(t.subarray(0, t.length - 1), 0) as { reason: string }).reason, 'truncated');
    }),
  );
});

test('LogAppendTime rewrites the max timestamp and keeps the CRC valid', () => {
  const b = encodeBatch([{ key: null, value: Buffer.from('a'), timestamp: 5 }]);
  setLogAppendTime(b, 0, 1234);
  assert.equal(checkBatch(b, 0).ok, true);
  assert.equal(decodeBatch(b)[0]!.timestamp, 1234);
});

test('xerial-framed snappy (Java clients, kafka-python) decodes; garbage in a compressed batch is a RangeError', async () => {
  const { compressSync } = await import('snappy');
  const { codecFor } = await import('./compression.js');
  const raw = Buffer.from('abcabcabc'.repeat(100));
  const block = compressSync(raw) as Buffer;
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(block.length);
  const framed = Buffer.concat([header, len, block, len, block]);
  assert.deepEqual(codecFor(Compression.Snappy)!.decompress(framed), Buffer.concat([raw, raw]));
  const b = encodeBatch([{ key: null, value: Buffer.from('x'), timestamp: 1 }], { compression: Compression.Lz4 });
  b.fill(7, 61);
  assert.throws(() => decodeBatch(b), RangeError);
});
