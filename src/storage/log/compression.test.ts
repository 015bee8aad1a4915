// Decompression is bounded: an input that would expand past the limit is a RangeError for every codec,
// checked before the library allocates where the format declares sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { compressSync as snappyCompress } from 'snappy';
import { compressFrameSync as lz4Compress } from 'lz4-napi';
import { codecFor, Compression } from './compression.js';
import { Limits } from '../../lib/limits.js';
import { decodeBatch, encodeBatch } from './record-batch.js';

const KiB = 1024;
const tooLarge = /exceeds the decompressed size limit/;
const codec = (c: Compression) => codecFor(c)!;

test('every codec round-trips within the limit, including output exactly at the limit', () => {
  const data = Buffer.from('junction '.repeat(1000));
  for (const c of [Compression.Gzip, Compression.Snappy, Compression.Lz4]) {
    const z = codec(c).compress(data);
    assert.deepEqual(codec(c).decompress(z), data);
    assert.deepEqual(codec(c).decompress(z, data.length), data);
  }
});

test('gzip: a small input expanding past the limit is rejected (injected limit and the default)', () => {
  const bomb = gzipSync(Buffer.alloc(1024 * KiB));
  assert.ok(bomb.length < 2 * KiB);
  assert.throws(() => codec(Compression.Gzip).decompress(bomb, KiB), tooLarge);
  assert.equal(codec(Compression.Gzip).decompress(bomb, 1024 * KiB).length, 1024 * KiB);
  // Concatenated members count together.
  const two = Buffer.concat([gzipSync(Buffer.alloc(600)), gzipSync(Buffer.alloc(600))]);
  assert.throws(() => codec(Compression.Gzip).decompress(two, KiB), tooLarge);
  // The default limit: ~65 KB of gzip that would expand to Limits.decompressedBytesMax + 1 byte.
  const big = gzipSync(Buffer.alloc(Limits.decompressedBytesMax + 1), { level: 1 });
  assert.ok(big.length < Limits.decompressedBytesMax / 100);
  assert.throws(() => codec(Compression.Gzip).decompress(big), tooLarge);
});

test('snappy: the declared length is checked before decompressing (raw blocks and xerial chunks)', () => {
  const block = snappyCompress(Buffer.alloc(100 * KiB)) as Buffer;
  assert.throws(() => codec(Compression.Snappy).decompress(block, KiB), tooLarge);
  // A block that merely claims 2 GiB is refused without allocating it.
  assert.throws(() => codec(Compression.Snappy).decompress(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08, 0x00])), tooLarge);
  // xerial: each chunk fits, their sum does not.
  const chunk = snappyCompress(Buffer.alloc(600)) as Buffer;
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(chunk.length);
  const framed = Buffer.concat([header, len, chunk, len, chunk]);
  assert.equal(codec(Compression.Snappy).decompress(framed, 1200).length, 1200);
  assert.throws(() => codec(Compression.Snappy).decompress(framed, KiB), tooLarge);
});

test('lz4: block count and declared content size are checked before decompressing', () => {
  const frame = lz4Compress(Buffer.alloc(1024 * KiB));
  assert.throws(() => codec(Compression.Lz4).decompress(frame, KiB), tooLarge);
  assert.equal(codec(Compression.Lz4).decompress(frame, 1024 * KiB).length, 1024 * KiB);
  // A frame header declaring a 1 TiB content size (FLG: version 01, B.Indep, C.Size; BD: 64 KiB blocks).
  const header = Buffer.alloc(4 + 2 + 8 + 1);
  header.writeUInt32LE(0x184d2204, 0);
  header[4] = 0x68;
  header[5] = 0x40;
  header.writeUInt32LE(0, 6);
  header.writeUInt32LE(256, 10);
  assert.throws(() => codec(Compression.Lz4).decompress(Buffer.concat([header, Buffer.alloc(4)])), tooLarge);
  // 40 one-byte "compressed" blocks of a 64 KiB-block frame could reach 2.5 MiB: refused before lz4 sees
  // them (lz4 itself would call them corrupt).
  const blocks = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x00])];
  for (let i = 0; i < 40; i++) blocks.push(Buffer.from([1, 0, 0, 0, 0xff]));
  blocks.push(Buffer.alloc(4));
  assert.throws(() => codec(Compression.Lz4).decompress(Buffer.concat(blocks), 1024 * KiB), tooLarge);
});

/** A zstd frame without content size whose window is 1 KiB (window descriptor 0), made of RLE blocks. */
function zstdRleFrame(blocks: number, blockBytes: number, byte: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00])];
  for (let i = 0; i < blocks; i++) {
    const h = (i === blocks - 1 ? 1 : 0) | (1 << 1) | (blockBytes << 3);
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, byte]));
  }
  return Buffer.concat(parts);
}

test('zstd: blocks, declared content size and window size are checked before decompressing', () => {
  const frame = zstdRleFrame(8, KiB, 7);
  assert.deepEqual(codec(Compression.Zstd).decompress(frame, 8 * KiB), Buffer.alloc(8 * KiB, 7));
  assert.throws(() => codec(Compression.Zstd).decompress(frame, 4 * KiB), tooLarge);
  // Garbage "compressed" blocks are counted at the block maximum and refused before fzstd sees them.
  const garbage = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00])];
  for (let i = 0; i < 10; i++) garbage.push(Buffer.from([(i === 9 ? 1 : 0) | (2 << 1) | (1 << 3), 0, 0, 0xff]));
  assert.throws(() => codec(Compression.Zstd).decompress(Buffer.concat(garbage), 4 * KiB), tooLarge);
  // Frames count together.
  assert.throws(() => codec(Compression.Zstd).decompress(Buffer.concat([zstdRleFrame(3, KiB, 1), zstdRleFrame(3, KiB, 2)]), 4 * KiB), tooLarge);
  // Declared content size of 2^40 bytes (FHD: 8-byte FCS, single segment).
  const fcs = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0, 0]);
  assert.throws(() => codec(Compression.Zstd).decompress(fcs), tooLarge);
  // A 2 GiB window, which fzstd would allocate up front.
  const window = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0, 0]);
  assert.throws(() => codec(Compression.Zstd).decompress(window), tooLarge);
});

test('a compressed batch over the limit fails to decode as a RangeError', () => {
  const per = 8 * 1024 * KiB;
  const values = Array.from({ length: Math.floor(Limits.decompressedBytesMax / per) + 1 }, (_, i) => ({ key: null, value: Buffer.alloc(per, i), timestamp: i }));
  const b = encodeBatch(values, { compression: Compression.Gzip });
  assert.ok(b.length < 1024 * KiB);
  assert.throws(() => decodeBatch(b), (e: unknown) => e instanceof RangeError && tooLarge.test(e.message));
});

test('decompressAsync gives what decompress gives, with the same bounds, for every codec (zstd in its worker)', async () => {
  const data = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i}\n`).join(''));
  for (const c of [Compression.Gzip, Compression.Snappy, Compression.Lz4]) {
    const z = codec(c).compress(data);
    assert.deepEqual(await codec(c).decompressAsync(z), data, `codec ${c}`);
    await assert.rejects(codec(c).decompressAsync(z, KiB), tooLarge, `codec ${c} bounded`);
    await assert.rejects(codec(c).decompressAsync(Buffer.from('not compressed at all, not even close')), RangeError, `codec ${c} malformed`);
  }
  // 2 MiB of RLE blocks: over the inline bound, so decompressed by the worker thread (window 128 KiB).
  const big = zstdRleFrame(16, 128 * KiB, 9);
  big[5] = 7 << 3;
  assert.deepEqual(await codec(Compression.Zstd).decompressAsync(big), Buffer.alloc(2048 * KiB, 9));
  await assert.rejects(codec(Compression.Zstd).decompressAsync(big, 1024 * KiB), tooLarge);
  const small = zstdRleFrame(8, KiB, 7);
  assert.deepEqual(await codec(Compression.Zstd).decompressAsync(small), Buffer.alloc(8 * KiB, 7));
  // A frame the worker cannot decode (bad compressed block) is a RangeError.
  const bad = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3])];
  for (let i = 0; i < 16; i++) bad.push(Buffer.from([(i === 15 ? 1 : 0) | (2 << 1) | (4 << 3), 0, 0, 0xff, 0xff, 0xff, 0xff]));
  await assert.rejects(codec(Compression.Zstd).decompressAsync(Buffer.concat(bad)), RangeError);
});
