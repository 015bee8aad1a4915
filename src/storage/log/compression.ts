// Compression codecs of Kafka record batches (attributes bits 0-2). Batches are stored as sent; the
// broker decompresses only to hand records to other protocols. gzip: node:zlib; snappy: `snappy`
// (raw blocks, and the xerial framing Java clients and kafka-python send); lz4: `lz4-napi` (LZ4 frame
// format, as Kafka uses); zstd: `fzstd` (decompression only: Junction itself never writes zstd).
//
// Decompression is bounded (Limits.decompressedBytesMax, or the caller's `maxBytes`): every codec checks
// what the input can expand to before the library allocates, and the output length after. Malformed
// input and input that would expand past the bound are both RangeErrors. gzip and snappy are exact;
// lz4 and zstd only bound a compressed block by the format's block maximum, so they may decompress up to
// one block (≤ 4 MiB / 128 KiB) past the limit before the output check refuses it — in exchange, no
// batch whose output fits is refused because its last block is partial.
//
// `decompressAsync` keeps the event loop free while a large batch is decompressed: gzip, snappy and lz4
// run on libuv's thread pool; zstd (fzstd is JavaScript) runs in a worker thread (codec-worker.ts) unless
// its output is bounded by ZSTD_INLINE_BYTES. The same bounds are checked before anything is allocated.
import { gunzip, gunzipSync, gzipSync } from 'node:zlib';
import { zstdInWorker } from './codec-worker-client.js';
import { compressSync as snappyCompress, uncompress as snappyUncompressAsync, uncompressSync as snappyUncompress } from 'snappy';
import { compressFrameSync as lz4Compress, decompressFrame as lz4DecompressAsync, decompressFrameSync as lz4Decompress } from 'lz4-napi';
import { decompress as zstdDecompress } from 'fzstd';
import { Limits } from '../../lib/limits.js';

export const Compression = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export interface CompressionCodec {
  compress(data: Buffer): Buffer;
  /** Throws RangeError on malformed input or if the output would exceed `maxBytes` (default Limits.decompressedBytesMax). */
  decompress(data: Buffer, maxBytes?: number): Buffer;
  /** As `decompress`, without holding the event loop (rejects with the same RangeErrors). */
  decompressAsync(data: Buffer, maxBytes?: number): Promise<Buffer>;
}

/** Whether a decompression error means the output was over the limit (rather than malformed input). */
export function isTooLarge(err: unknown): boolean {
  return err instanceof RangeError && err.message.includes(TOO_LARGE);
}

const TOO_LARGE = 'exceeds the decompressed size limit';

function tooLarge(what: string, maxBytes: number): RangeError {
  return new RangeError(`${what} ${TOO_LARGE} of ${maxBytes} bytes`);
}

function checkMax(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`bad decompressed size limit ${maxBytes}`);
  return maxBytes;
}

function checkOutput(out: Buffer, maxBytes: number): Buffer {
  if (out.length > maxBytes) throw tooLarge(`decompressed output (${out.length} bytes)`, maxBytes);
  return out;
}

// ---- gzip ------------------------------------------------------------------------------------------------

function gzipDecompress(data: Buffer, maxBytes: number): Buffer {
  try {
    // zlib stops (and throws) once the output would pass maxOutputLength, before allocating more.
    return checkOutput(gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) }), maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('gzip payload', maxBytes);
    throw err;
  }
}

const GZIP_CHUNK_BYTES = 1024 * 1024;

function gzipDecompressAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Output in 1 MiB chunks: zlib's default 16 KiB ones mean thousands of callbacks on the event loop.
    gunzip(data, { maxOutputLength: Math.max(1, maxBytes), chunkSize: GZIP_CHUNK_BYTES }, (err, out) => {
      if (err) reject((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? tooLarge('gzip payload', maxBytes) : new RangeError(err.message));
      else {
        try {
          resolve(checkOutput(out, maxBytes));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

// ---- snappy ----------------------------------------------------------------------------------------------

/** xerial snappy-java stream framing: magic, version, compatible version, then [int32 length][block]... */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

/** The uncompressed length a raw snappy block declares (its leading varint32); the library allocates exactly this. */
function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new RangeError('truncated snappy length header');
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw new RangeError('bad snappy length header');
}

function snappyBlock(block: Buffer, budget: number, maxBytes: number): Buffer {
  if (snappyDeclaredLength(block) > budget) throw tooLarge('snappy payload', maxBytes);
  return snappyUncompress(block) as Buffer;
}

function snappyDecompress(data: Buffer, maxBytes: number): Buffer {
  if (data.length < XERIAL_HEADER_BYTES || !data.subarray(0, 8).equals(XERIAL_MAGIC)) return checkOutput(snappyBlock(data, maxBytes, maxBytes), maxBytes);
  const parts: Buffer[] = [];
  let total = 0;
  let p = XERIAL_HEADER_BYTES;
  while (p < data.length) {
    if (p + 4 > data.length) throw new RangeError('truncated xerial snappy chunk header');
    const len = data.readInt32BE(p);
    p += 4;
    if (len < 0 || p + len > data.length) throw new RangeError('xerial snappy chunk runs past its batch');
    const part = snappyBlock(data.subarray(p, p + len), maxBytes - total, maxBytes);
    total += part.length;
    if (total > maxBytes) throw tooLarge('snappy payload', maxBytes);
    parts.push(part);
    p += len;
  }
  return Buffer.concat(parts, total);
}

async function snappyBlockAsync(block: Buffer, budget: number, maxBytes: number): Promise<Buffer> {
  if (snappyDeclaredLength(block) > budget) throw tooLarge('snappy payload', maxBytes);
  try {
    return (await snappyUncompressAsync(block)) as Buffer;
  } catch (err) {
    throw new RangeError(`bad snappy block: ${(err as Error).message}`);
  }
}

async function snappyDecompressAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  if (data.length < XERIAL_HEADER_BYTES || !data.subarray(0, 8).equals(XERIAL_MAGIC)) return checkOutput(await snappyBlockAsync(data, maxBytes, maxBytes), maxBytes);
  const parts: Buffer[] = [];
  let total = 0;
  let p = XERIAL_HEADER_BYTES;
  while (p < data.length) {
    if (p + 4 > data.length) throw new RangeError('truncated xerial snappy chunk header');
    const len = data.readInt32BE(p);
    p += 4;
    if (len < 0 || p + len > data.length) throw new RangeError('xerial snappy chunk runs past its batch');
    const part = await snappyBlockAsync(data.subarray(p, p + len), maxBytes - total, maxBytes);
    total += part.length;
    if (total > maxBytes) throw tooLarge('snappy payload', maxBytes);
    parts.push(part);
    p += len;
  }
  return Buffer.concat(parts, total);
}

// ---- lz4 -------------------------------------------------------------------------------------------------

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/**
 * Checks what the first LZ4 frame of `data` can decompress to (lz4-napi decodes only the first frame and
 * ignores what follows): its declared content size, and the sum over its blocks (an uncompressed block's
 * own size, a compressed block's at most the frame's block maximum) — the latter with one block of slack.
 */
function lz4FrameCheck(data: Buffer, maxBytes: number): void {
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_MAGIC) throw new RangeError('not an LZ4 frame');
  const flg = data[4]!;
  const bd = data[5]!;
  if (flg >> 6 !== 1) throw new RangeError('unsupported LZ4 frame version');
  const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7]!;
  if (blockMax === 0) throw new RangeError('bad LZ4 block maximum size');
  const blockChecksum = (flg & 0x10) !== 0;
  let p = 6;
  if (flg & 0x08) {
    if (p + 8 > data.length) throw new RangeError('truncated LZ4 frame header');
    const contentSize = data.readUInt32LE(p) + data.readUInt32LE(p + 4) * 2 ** 32;
    if (contentSize > maxBytes) throw tooLarge(`lz4 frame content size (${contentSize} bytes)`, maxBytes);
    p += 8;
  }
  if (flg & 0x01) p += 4; // dictionary id
  p += 1; // header checksum
  let bound = 0;
  for (;;) {
    if (p + 4 > data.length) return; // lz4-napi accepts a frame cut off before its end mark
    const word = data.readUInt32LE(p);
    p += 4;
    if (word === 0) return; // end mark
    const size = word & 0x7fffffff;
    bound += word & 0x80000000 ? size : blockMax;
    if (bound > maxBytes + blockMax) throw tooLarge('lz4 payload', maxBytes);
    p += size + (blockChecksum ? 4 : 0);
  }
}

function lz4DecompressBounded(data: Buffer, maxBytes: number): Buffer {
  lz4FrameCheck(data, maxBytes);
  return checkOutput(lz4Decompress(data), maxBytes);
}

async function lz4DecompressBoundedAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  lz4FrameCheck(data, maxBytes);
  let out: Buffer;
  try {
    out = await lz4DecompressAsync(data);
  } catch (err) {
    throw new RangeError(`bad lz4 frame: ${(err as Error).message}`);
  }
  return checkOutput(out, maxBytes);
}

// ---- zstd ------------------------------------------------------------------------------------------------

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX = 128 * 1024;

/**
 * Walks every zstd frame (and skippable frame) of `data` before fzstd sees it. fzstd allocates a frame's
 * content size, or its window size when none is declared, up front: both must be within the limit. The
 * output is bounded by the blocks: raw and RLE blocks state their size, a compressed block yields at most
 * min(window, 128 KiB) (one such block of slack). Returns the larger of that bound and what fzstd allocates.
 */
function zstdCheck(data: Buffer, maxBytes: number): number {
  let bound = 0;
  /** What fzstd allocates up front: each frame's content size (or window). */
  let allocated = 0;
  let p = 0;
  while (p < data.length) {
    if (p + 4 > data.length) throw new RangeError('truncated zstd frame');
    const magic = data.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (p + 8 > data.length) throw new RangeError('truncated zstd skippable frame');
      p += 8 + data.readUInt32LE(p + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new RangeError('not a zstd frame');
    if (p + 6 > data.length) throw new RangeError('truncated zstd frame header');
    const fhd = data[p + 4]!;
    if (fhd & 0x08) throw new RangeError('zstd frame header reserved bit set');
    const singleSegment = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsFlag = fhd >> 6;
    const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
    let q = p + 5;
    let windowSize = 0;
    if (!singleSegment) {
      const wd = data[q++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    q += dictBytes;
    if (q + fcsBytes > data.length) throw new RangeError('truncated zstd frame header');
    let contentSize = 0;
    for (let i = 0; i < fcsBytes; i++) contentSize += data[q + i]! * 2 ** (8 * i);
    if (fcsBytes === 2) contentSize += 256;
    q += fcsBytes;
    if (singleSegment) windowSize = contentSize;
    if (contentSize > maxBytes) throw tooLarge(`zstd frame content size (${contentSize} bytes)`, maxBytes);
    if ((contentSize || windowSize) > maxBytes) throw tooLarge(`zstd window (${windowSize} bytes)`, maxBytes);
    allocated += contentSize || windowSize;
    const blockMax = Math.min(windowSize, ZSTD_BLOCK_MAX);
    for (let last = 0; !last; ) {
      if (q + 3 > data.length) throw new RangeError('truncated zstd block header');
      const h = data[q]! | (data[q + 1]! << 8) | (data[q + 2]! << 16);
      q += 3;
      last = h & 1;
      const type = (h >> 1) & 3;
      const size = h >> 3;
      if (type === 3) throw new RangeError('reserved zstd block type');
      bound += type === 2 ? blockMax : size;
      if (bound > maxBytes + blockMax) throw tooLarge('zstd payload', maxBytes);
      q += type === 1 ? 1 : size;
    }
    p = q + checksum * 4;
  }
  return Math.max(bound, allocated);
}

function zstdDecompressBounded(data: Buffer, maxBytes: number): Buffer {
  zstdCheck(data, maxBytes);
  const out = zstdDecompress(data);
  return checkOutput(Buffer.from(out.buffer, out.byteOffset, out.byteLength), maxBytes);
}

/** Below this bound on a zstd payload's output it is decompressed in place (a worker round trip costs more). */
const ZSTD_INLINE_BYTES = 1024 * 1024;

async function zstdDecompressBoundedAsync(data: Buffer, maxBytes: number): Promise<Buffer> {
  const bound = zstdCheck(data, maxBytes);
  if (bound <= ZSTD_INLINE_BYTES) return zstdDecompressBounded(data, maxBytes);
  return checkOutput(await zstdInWorker(data), maxBytes);
}

// ---- registry --------------------------------------------------------------------------------------------

const codecs = new Map<number, CompressionCodec>([
  [
    Compression.Gzip,
    {
      compress: (d) => gzipSync(d),
      decompress: (d, max = Limits.decompressedBytesMax) => gzipDecompress(d, checkMax(max)),
      decompressAsync: async (d, max = Limits.decompressedBytesMax) => gzipDecompressAsync(d, checkMax(max)),
    },
  ],
  [
    Compression.Snappy,
    {
      compress: (d) => snappyCompress(d),
      decompress: (d, max = Limits.decompressedBytesMax) => snappyDecompress(d, checkMax(max)),
      decompressAsync: async (d, max = Limits.decompressedBytesMax) => snappyDecompressAsync(d, checkMax(max)),
    },
  ],
  [
    Compression.Lz4,
    {
      compress: (d) => lz4Compress(d),
      decompress: (d, max = Limits.decompressedBytesMax) => lz4DecompressBounded(d, checkMax(max)),
      decompressAsync: async (d, max = Limits.decompressedBytesMax) => lz4DecompressBoundedAsync(d, checkMax(max)),
    },
  ],
  [
    Compression.Zstd,
    {
      compress: () => {
        throw new RangeError('zstd compression is not available (decompression only)');
      },
      decompress: (d, max = Limits.decompressedBytesMax) => zstdDecompressBounded(d, checkMax(max)),
      decompressAsync: async (d, max = Limits.decompressedBytesMax) => zstdDecompressBoundedAsync(d, checkMax(max)),
    },
  ],
]);

export function codecFor(type: number): CompressionCodec | undefined {
  return codecs.get(type);
}
