// Compression codecs of Kafka record batches (attributes bits 0-2). Batches are stored as sent; the
// broker decompresses only to hand records to other protocols. gzip is built in; snappy, lz4 and zstd are
// registered by whoever brings their libraries (the Kafka protocol issue) through registerCodec.
import { gunzipSync, gzipSync } from 'node:zlib';

export const Compression = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

export interface CompressionCodec {
  compress(data: Buffer): Buffer;
  decompress(data: Buffer): Buffer;
}

const codecs = new Map<number, CompressionCodec>([
  [Compression.Gzip, { compress: (d) => gzipSync(d), decompress: (d) => gunzipSync(d) }],
]);

export function registerCodec(type: Compression, codec: CompressionCodec): void {
  codecs.set(type, codec);
}

export function codecFor(type: number): CompressionCodec | undefined {
  return codecs.get(type);
}
