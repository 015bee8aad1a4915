// Checks of produced record batches that need their records (not just the batch header): record header
// names starting with `jx.` are reserved for Junction (docs/interop.md) and refused, and a compressed
// batch is decompressed to look (within Limits.decompressedBytesMax, as Kafka's own validation does).
//
// A compressed batch is decompressed and searched in the codec worker thread (storage/log/codec-worker.ts),
// so its check is asynchronous; a partition's batches must still reach its log in arrival order
// (pipelined produce requests, idempotent sequences). BatchIngress keeps that order: a batch that needs no asynchronous work and has nothing queued
// before it is checked and appended at once (the fast path: an uncompressed batch without the bytes `jx.`
// costs one Buffer.indexOf); any other batch queues behind the partition's earlier ones.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { Limits } from '../../lib/limits.js';
import { BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES, BatchAttr, batchRecordCount } from '../../storage/log/record-batch.js';
import { scanBatchInWorker } from '../../storage/log/codec-worker-client.js';
import { isTooLarge } from '../../storage/log/compression.js';
import { findHeadersWithPrefix, type HeaderHit } from '../../storage/log/record-headers.js';

/** Record header names with this prefix belong to Junction. */
export const RESERVED_HEADER_PREFIX = 'jx.';
const RESERVED = Buffer.from(RESERVED_HEADER_PREFIX);

export interface RecordError {
  /** The record's index within its batch. */
  batchIndex: number;
  message: string;
}

function isCompressed(batches: Buffer, pos: number): boolean {
  return (batches.readInt16BE(pos + 21) & BatchAttr.CompressionMask) !== 0;
}

/** Each batch's position in `batches` (whole batches only; the log's own check reports a bad tail). */
function batchPositions(batches: Buffer): number[] {
  const out: number[] = [];
  for (let p = 0; p + BATCH_HEADER_BYTES <= batches.length; ) {
    const len = batches.readInt32BE(p + 8) + BATCH_LENGTH_PREFIX_BYTES;
    if (len < BATCH_HEADER_BYTES || p + len > batches.length) break;
    out.push(p);
    p += len;
  }
  return out;
}

function reservedHeaders(hits: HeaderHit[], recordBase: number): BrokerError {
  const recordErrors: RecordError[] = hits.map((h) => ({ batchIndex: recordBase + h.index, message: `record header '${h.key.slice(0, 100)}' uses the reserved prefix '${RESERVED_HEADER_PREFIX}'` }));
  return new BrokerError(ErrorCode.InvalidRecord, `${hits.length} record(s) carry header names reserved by Junction ('${RESERVED_HEADER_PREFIX}...')`, { recordErrors });
}

function reservedHeaderError(body: Buffer, start: number, end: number, count: number, recordBase: number): BrokerError | undefined {
  const at = body.indexOf(RESERVED, start);
  if (at < 0 || at >= end) return undefined;
  let hits;
  try {
    hits = findHeadersWithPrefix(body, start, end, count, RESERVED);
  } catch (err) {
    return new BrokerError(ErrorCode.CorruptData, `malformed record: ${(err as Error).message}`);
  }
  return hits.length > 0 ? reservedHeaders(hits, recordBase) : undefined;
}

/** Whether checking `batches` needs no asynchronous work (no compressed batch). */
function checkableNow(batches: Buffer): boolean {
  for (const p of batchPositions(batches)) if (isCompressed(batches, p)) return false;
  return true;
}

/** Checks uncompressed batches; throws the BrokerError that refuses them. */
function checkNow(batches: Buffer): void {
  if (batches.indexOf(RESERVED) < 0) return;
  let base = 0;
  for (const p of batchPositions(batches)) {
    const count = batchRecordCount(batches, p);
    const err = reservedHeaderError(batches, p + BATCH_HEADER_BYTES, p + batches.readInt32BE(p + 8) + BATCH_LENGTH_PREFIX_BYTES, count, base);
    if (err) throw err;
    base += Math.max(count, 0);
  }
}

async function checkLater(batches: Buffer): Promise<void> {
  let base = 0;
  for (const p of batchPositions(batches)) {
    const count = batchRecordCount(batches, p);
    const size = batches.readInt32BE(p + 8) + BATCH_LENGTH_PREFIX_BYTES;
    if (isCompressed(batches, p)) {
      // Decompressed and searched in the codec worker: the event loop neither decompresses nor holds the
      // decompressed bytes.
      let hits;
      try {
        hits = await scanBatchInWorker(batches, p, size, RESERVED_HEADER_PREFIX, Limits.decompressedBytesMax);
      } catch (err) {
        if (isTooLarge(err)) throw new BrokerError(ErrorCode.LimitExceeded, `a batch decompresses to more than ${Limits.decompressedBytesMax} bytes`);
        throw new BrokerError(ErrorCode.CorruptData, (err as Error).message);
      }
      if (hits.length > 0) throw reservedHeaders(hits, base);
    } else {
      const e = reservedHeaderError(batches, p + BATCH_HEADER_BYTES, p + size, count, base);
      if (e) throw e;
    }
    base += Math.max(count, 0);
  }
}

/** One per partition: admits produced batches to `append` in arrival order, after their checks. */
export class BatchIngress {
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;

  admit<T>(batches: Buffer, append: () => Promise<T>): Promise<T> {
    if (this.queued === 0 && checkableNow(batches)) {
      checkNow(batches);
      return append();
    }
    this.queued++;
    const checked = this.tail.then(() => checkLater(batches));
    // `append` is registered on `checked` before the next batch's check is chained on the tail, so the
    // appends start in arrival order.
    const appended = checked.then(append);
    const done = () => {
      this.queued--;
    };
    this.tail = checked.then(done, done);
    return appended;
  }
}
