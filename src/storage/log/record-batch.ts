// Kafka RecordBatch v2 (magic 2): the one on-disk record format (design.md §2). Kafka produce requests
// carry it as is; other protocols build batches with encodeBatch. Offsets of fields are fixed:
//
//   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8 | 17 crc uint32
//   21 attributes int16 | 23 lastOffsetDelta int32 | 27 firstTimestamp int64 | 35 maxTimestamp int64
//   43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 | 57 recordCount int32 | 61 records
//
// The CRC32C covers bytes 21..end. batchLength counts the bytes after its own field (total - 12).
import { crc32c } from '@node-rs/crc32';
import { codecFor, Compression, type CompressionCodec } from './compression.js';
import { readVarint, varintResult, varintSize, writeVarint } from './varint.js';

export const BATCH_HEADER_BYTES = 61;
/** Bytes needed to know a batch's full length (baseOffset + batchLength). */
export const BATCH_LENGTH_PREFIX_BYTES = 12;
export const MAGIC_V2 = 2;

export const BatchAttr = {
  CompressionMask: 0x07,
  LogAppendTime: 0x08,
  Transactional: 0x10,
  Control: 0x20,
} as const;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds since the epoch. */
  timestamp: number;
  headers?: readonly RecordHeader[];
}

export interface Record {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface BatchHeader {
  baseOffset: number;
  /** Total bytes of the batch including the 12-byte prefix. */
  sizeBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface EncodeOptions {
  baseOffset?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  compression?: Compression;
  logAppendTime?: boolean;
}

function recordBodySize(r: RecordInput, offsetDelta: number, timestampDelta: number): number {
  let n = 1 + varintSize(timestampDelta) + varintSize(offsetDelta);
  n += r.key === null ? 1 : varintSize(r.key.length) + r.key.length;
  n += r.value === null ? 1 : varintSize(r.value.length) + r.value.length;
  const headers = r.headers ?? [];
  n += varintSize(headers.length);
  for (const h of headers) {
    const kl = Buffer.byteLength(h.key);
    n += varintSize(kl) + kl;
    n += h.value === null ? 1 : varintSize(h.value.length) + h.value.length;
  }
  return n;
}

function writeRecords(records: readonly RecordInput[], firstTimestamp: number, buf: Buffer, pos: number): number {
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const tsDelta = r.timestamp - firstTimestamp;
    pos = writeVarint(buf, pos, recordBodySize(r, i, tsDelta));
    buf[pos++] = 0; // record attributes, unused
    pos = writeVarint(buf, pos, tsDelta);
    pos = writeVarint(buf, pos, i);
    if (r.key === null) pos = writeVarint(buf, pos, -1);
    else {
      pos = writeVarint(buf, pos, r.key.length);
      pos += r.key.copy(buf, pos);
    }
    if (r.value === null) pos = writeVarint(buf, pos, -1);
    else {
      pos = writeVarint(buf, pos, r.value.length);
      pos += r.value.copy(buf, pos);
    }
    const headers = r.headers ?? [];
    pos = writeVarint(buf, pos, headers.length);
    for (const h of headers) {
      const kl = Buffer.byteLength(h.key);
      pos = writeVarint(buf, pos, kl);
      pos += buf.write(h.key, pos);
      if (h.value === null) pos = writeVarint(buf, pos, -1);
      else {
        pos = writeVarint(buf, pos, h.value.length);
        pos += h.value.copy(buf, pos);
      }
    }
  }
  return pos;
}

/** Encodes records as one RecordBatch v2 with a valid CRC. */
export function encodeBatch(records: readonly RecordInput[], opts: EncodeOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a batch holds at least one record');
  let firstTimestamp = records[0]!.timestamp;
  let maxTimestamp = firstTimestamp;
  for (const r of records) {
    if (r.timestamp < firstTimestamp) firstTimestamp = r.timestamp;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
  }
  let bodyBytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const s = recordBodySize(r, i, r.timestamp - firstTimestamp);
    bodyBytes += varintSize(s) + s;
  }
  const compression = opts.compression ?? Compression.None;
  let body: Buffer | undefined;
  let buf: Buffer;
  if (compression !== Compression.None) {
    const codec = codecFor(compression);
    if (!codec) throw new RangeError(`compression codec ${compression} is not available`);
    const raw = Buffer.allocUnsafe(bodyBytes);
    writeRecords(records, firstTimestamp, raw, 0);
    body = codec.compress(raw);
    buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + body.length);
    body.copy(buf, BATCH_HEADER_BYTES);
  } else {
    buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + bodyBytes);
    writeRecords(records, firstTimestamp, buf, BATCH_HEADER_BYTES);
  }
  buf.writeBigInt64BE(BigInt(opts.baseOffset ?? 0), 0);
  buf.writeInt32BE(buf.length - BATCH_LENGTH_PREFIX_BYTES, 8);
  buf.writeInt32BE(-1, 12);
  buf[16] = MAGIC_V2;
  let attributes = compression;
  if (opts.logAppendTime) attributes |= BatchAttr.LogAppendTime;
  buf.writeInt16BE(attributes, 21);
  buf.writeInt32BE(records.length - 1, 23);
  buf.writeBigInt64BE(BigInt(firstTimestamp), 27);
  buf.writeBigInt64BE(BigInt(maxTimestamp), 35);
  buf.writeBigInt64BE(opts.producerId ?? -1n, 43);
  buf.writeInt16BE(opts.producerEpoch ?? -1, 51);
  buf.writeInt32BE(opts.baseSequence ?? -1, 53);
  buf.writeInt32BE(records.length, 57);
  buf.writeUInt32BE(crc32c(buf.subarray(21)), 17);
  return buf;
}

export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  return {
    baseOffset: Number(buf.readBigInt64BE(pos)),
    sizeBytes: buf.readInt32BE(pos + 8) + BATCH_LENGTH_PREFIX_BYTES,
    partitionLeaderEpoch: buf.readInt32BE(pos + 12),
    magic: buf.readInt8(pos + 16),
    crc: buf.readUInt32BE(pos + 17),
    attributes: buf.readInt16BE(pos + 21),
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    firstTimestamp: Number(buf.readBigInt64BE(pos + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(pos + 35)),
    producerId: buf.readBigInt64BE(pos + 43),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordCount: buf.readInt32BE(pos + 57),
  };
}

// Cheap field accessors for hot paths (no header object).
export const batchBaseOffset = (buf: Buffer, pos = 0): number => Number(buf.readBigInt64BE(pos));
export const batchSizeBytes = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + 8) + BATCH_LENGTH_PREFIX_BYTES;
export const batchLastOffsetDelta = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + 23);
export const batchMaxTimestamp = (buf: Buffer, pos = 0): number => Number(buf.readBigInt64BE(pos + 35));
export const batchRecordCount = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + 57);
export const batchProducerId = (buf: Buffer, pos = 0): bigint => buf.readBigInt64BE(pos + 43);
export const batchProducerEpoch = (buf: Buffer, pos = 0): number => buf.readInt16BE(pos + 51);
export const batchBaseSequence = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + 53);

/** Rewrites the base offset in place (the CRC does not cover it). */
export function setBatchBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  buf.writeBigInt64BE(BigInt(baseOffset), pos);
}

/** Sets LogAppendTime: max timestamp := now, then recomputes the CRC (Kafka's log.message.timestamp.type). */
export function setLogAppendTime(buf: Buffer, pos: number, nowMs: number): void {
  const size = batchSizeBytes(buf, pos);
  buf.writeInt16BE(buf.readInt16BE(pos + 21) | BatchAttr.LogAppendTime, pos + 21);
  buf.writeBigInt64BE(BigInt(nowMs), pos + 35);
  buf.writeUInt32BE(crc32c(buf.subarray(pos + 21, pos + size)), pos + 17);
}

export type BatchCheck =
  | { ok: true; sizeBytes: number }
  | { ok: false; reason: 'truncated' | 'bad_length' | 'bad_magic' | 'bad_crc' | 'bad_count'; sizeBytes?: number };

/**
 * Checks the batch at `pos` within buf[pos, end): length, magic, record count and CRC. Does not decode records.
 * 'truncated' means the bytes end before the batch does (a torn tail or a partial read).
 */
export function checkBatch(buf: Buffer, pos: number, end = buf.length, maxBytes = Number.MAX_SAFE_INTEGER): BatchCheck {
  if (end - pos < BATCH_LENGTH_PREFIX_BYTES) return { ok: false, reason: 'truncated' };
  const len = buf.readInt32BE(pos + 8);
  const size = len + BATCH_LENGTH_PREFIX_BYTES;
  if (len < BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES || size > maxBytes) return { ok: false, reason: 'bad_length' };
  if (end - pos < BATCH_HEADER_BYTES) return { ok: false, reason: 'truncated', sizeBytes: size };
  if (buf[pos + 16] !== MAGIC_V2) return { ok: false, reason: 'bad_magic', sizeBytes: size };
  if (end - pos < size) return { ok: false, reason: 'truncated', sizeBytes: size };
  const count = buf.readInt32BE(pos + 57);
  const lastDelta = buf.readInt32BE(pos + 23);
  if (count < 0 || lastDelta < 0 || (count > 0 && lastDelta < count - 1)) return { ok: false, reason: 'bad_count', sizeBytes: size };
  const crc = crc32c(buf.subarray(pos + 21, pos + size));
  if (crc !== buf.readUInt32BE(pos + 17)) return { ok: false, reason: 'bad_crc', sizeBytes: size };
  return { ok: true, sizeBytes: size };
}

/** Decodes every record of the batch at `pos` (decompressing if needed). Throws RangeError on malformed data. */
export function decodeBatch(buf: Buffer, pos = 0): Record[] {
  const end = batchEndOf(buf, pos);
  const codec = batchCodec(buf, pos);
  if (!codec) return decodeRecords(buf, pos, buf, pos + BATCH_HEADER_BYTES, end);
  let body: Buffer;
  try {
    body = codec.decompress(buf.subarray(pos + BATCH_HEADER_BYTES, end));
  } catch (err) {
    throw new RangeError(`cannot decompress batch (codec ${batchCompression(buf, pos)}): ${(err as Error).message}`);
  }
  return decodeRecords(buf, pos, body, 0, body.length);
}

/**
 * As decodeBatch, with a compressed batch decompressed off the event loop (compression.ts,
 * decompressAsync): for reads that hand records to other protocols.
 */
export async function decodeBatchAsync(buf: Buffer, pos = 0): Promise<Record[]> {
  const body = await batchRecordsBodyAsync(buf, pos);
  return decodeRecords(buf, pos, body.buf, body.start, body.end);
}

/**
 * The records section of the batch at `pos`: a view of `buf` for an uncompressed batch, the decompressed
 * bytes (within `maxBytes`, default Limits.decompressedBytesMax) for a compressed one. Rejects with a
 * RangeError on malformed data or output over the limit (compression.ts isTooLarge tells which).
 */
export async function batchRecordsBodyAsync(buf: Buffer, pos = 0, maxBytes?: number): Promise<{ buf: Buffer; start: number; end: number }> {
  const end = batchEndOf(buf, pos);
  const codec = batchCodec(buf, pos);
  if (!codec) return { buf, start: pos + BATCH_HEADER_BYTES, end };
  let body: Buffer;
  try {
    body = await codec.decompressAsync(buf.subarray(pos + BATCH_HEADER_BYTES, end), maxBytes);
  } catch (err) {
    throw new RangeError(`cannot decompress batch (codec ${batchCompression(buf, pos)}): ${(err as Error).message}`);
  }
  return { buf: body, start: 0, end: body.length };
}

/** As batchRecordsBodyAsync, decompressing on the calling thread (the codec worker's side). */
export function batchRecordsBody(buf: Buffer, pos = 0, maxBytes?: number): { buf: Buffer; start: number; end: number } {
  const end = batchEndOf(buf, pos);
  const codec = batchCodec(buf, pos);
  if (!codec) return { buf, start: pos + BATCH_HEADER_BYTES, end };
  let body: Buffer;
  try {
    body = codec.decompress(buf.subarray(pos + BATCH_HEADER_BYTES, end), maxBytes);
  } catch (err) {
    throw new RangeError(`cannot decompress batch (codec ${batchCompression(buf, pos)}): ${(err as Error).message}`);
  }
  return { buf: body, start: 0, end: body.length };
}

function batchEndOf(buf: Buffer, pos: number): number {
  const end = pos + batchSizeBytes(buf, pos);
  if (end > buf.length || end < pos + BATCH_HEADER_BYTES) throw new RangeError('batch runs past the buffer');
  return end;
}

const batchCompression = (buf: Buffer, pos: number): number => buf.readInt16BE(pos + 21) & BatchAttr.CompressionMask;

/** The codec of a compressed batch, undefined for an uncompressed one. */
function batchCodec(buf: Buffer, pos: number): CompressionCodec | undefined {
  const compression = batchCompression(buf, pos);
  if (compression === Compression.None) return undefined;
  const codec = codecFor(compression);
  if (!codec) throw new RangeError(`compression codec ${compression} is not available`);
  return codec;
}

/** The records of the batch whose header is at `buf[pos]`, from its records section body[p, bodyEnd). */
function decodeRecords(buf: Buffer, pos: number, body: Buffer, p: number, bodyEnd: number): Record[] {
  const baseOffset = batchBaseOffset(buf, pos);
  const attributes = buf.readInt16BE(pos + 21);
  const firstTimestamp = Number(buf.readBigInt64BE(pos + 27));
  const logAppend = (attributes & BatchAttr.LogAppendTime) !== 0;
  const maxTimestamp = batchMaxTimestamp(buf, pos);
  const count = batchRecordCount(buf, pos);
  const out: Record[] = new Array(count);
  for (let i = 0; i < count; i++) {
    readVarint(body, p, bodyEnd);
    const recEnd = varintResult.pos + varintResult.value;
    if (varintResult.value < 0 || recEnd > bodyEnd) throw new RangeError('record runs past its batch');
    p = varintResult.pos + 1; // skip attributes
    readVarint(body, p, recEnd);
    const tsDelta = varintResult.value;
    readVarint(body, varintResult.pos, recEnd);
    const offsetDelta = varintResult.value;
    readVarint(body, varintResult.pos, recEnd);
    let key: Buffer | null = null;
    p = varintResult.pos;
    if (varintResult.value >= 0) {
      if (p + varintResult.value > recEnd) throw new RangeError('key runs past its record');
      key = body.subarray(p, p + varintResult.value);
      p += varintResult.value;
    }
    readVarint(body, p, recEnd);
    let value: Buffer | null = null;
    p = varintResult.pos;
    if (varintResult.value >= 0) {
      if (p + varintResult.value > recEnd) throw new RangeError('value runs past its record');
      value = body.subarray(p, p + varintResult.value);
      p += varintResult.value;
    }
    readVarint(body, p, recEnd);
    const headerCount = varintResult.value;
    p = varintResult.pos;
    if (headerCount < 0 || headerCount > recEnd - p) throw new RangeError('bad header count');
    const headers: RecordHeader[] = new Array(headerCount);
    for (let h = 0; h < headerCount; h++) {
      readVarint(body, p, recEnd);
      p = varintResult.pos;
      const kl = varintResult.value;
      if (kl < 0 || p + kl > recEnd) throw new RangeError('header key runs past its record');
      const hk = body.toString('utf8', p, p + kl);
      p += kl;
      readVarint(body, p, recEnd);
      p = varintResult.pos;
      let hv: Buffer | null = null;
      if (varintResult.value >= 0) {
        if (p + varintResult.value > recEnd) throw new RangeError('header value runs past its record');
        hv = body.subarray(p, p + varintResult.value);
        p += varintResult.value;
      }
      headers[h] = { key: hk, value: hv };
    }
    if (p !== recEnd) throw new RangeError('record length does not match its fields');
    out[i] = { offset: baseOffset + offsetDelta, timestamp: logAppend ? maxTimestamp : firstTimestamp + tsDelta, key, value, headers };
  }
  return out;
}
