// Compression codecs of Kafka record batches (attributes bits 0-2). Batches are stored as sent; the
// broker decompresses only to hand records to other protocols. gzip: node:zlib; snappy: `snappy`
// (raw blocks, and the xerial framing Java clients and kafka-python send); lz4: `lz4-napi` (LZ4 frame
// format, as Kafka uses); zstd: `fzstd` (decompression only: Junction itself never writes zstd).
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { compressFrameSync as lz4Compress, decompressFrameSync as lz4Decompress } from 'lz4-napi';
import { decompress as zstdDecompress } from 'fzstd';

export const Compression = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export interface CompressionCodec {
  compress(data: Buffer): Buffer;
  decompress(data: Buffer): Buffer;
}

/** xerial snappy-java stream framing: magic, version, compatible version, then [int32 length][block]... */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

function snappyDecompress(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER_BYTES || !data.subarray(0, 8).equals(XERIAL_MAGIC)) return snappyUncompress(data) as Buffer;
  const parts: Buffer[] = [];
  let p = XERIAL_HEADER_BYTES;
  while (p < data.length) {
    if (p + 4 > data.length) throw new RangeError('truncated xerial snappy chunk header');
    const len = data.readInt32BE(p);
    p += 4;
    if (len < 0 || p + len > data.length) throw new RangeError('xerial snappy chunk runs past its batch');
    parts.push(snappyUncompress(data.subarray(p, p + len)) as Buffer);
    p += len;
  }
  return Buffer.concat(parts);
}

const codecs = new Map<number, CompressionCodec>([
  [Compression.Gzip, { compress: (d) => gzipSync(d), decompress: (d) => gunzipSync(d) }],
  [Compression.Snappy, { compress: (d) => snappyCompress(d), decompress: snappyDecompress }],
  [Compression.Lz4, { compress: (d) => lz4Compress(d), decompress: (d) => lz4Decompress(d) }],
  [
    Compression.Zstd,
    {
      compress: () => {
        throw new RangeError('zstd compression is not available (decompression only)');
      },
      decompress: (d) => {
        const out = zstdDecompress(d);
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      },
    },
  ],
]);

export function codecFor(type: number): CompressionCodec | undefined {
  return codecs.get(type);
}
