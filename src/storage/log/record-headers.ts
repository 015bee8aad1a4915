// Record header names in a batch's records section, found without decoding the records into objects:
// used at ingress to refuse reserved names (`jx.`) in produced batches. Walks the RecordBatch v2 record
// layout (record-batch.ts) and throws RangeError on a malformed record, as decodeBatch does.
import { readVarint, varintResult } from './varint.js';

export interface HeaderHit {
  /** The record's index within its batch (Kafka's RecordError batch_index). */
  index: number;
  key: string;
}

function startsWith(buf: Buffer, pos: number, len: number, prefix: Buffer): boolean {
  if (len < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[pos + i] !== prefix[i]) return false;
  return true;
}

/** Skips a length-prefixed field (length -1 = null) at `p`; returns the position after it. */
function skipField(body: Buffer, p: number, recEnd: number): number {
  readVarint(body, p, recEnd);
  const len = varintResult.value;
  const at = varintResult.pos;
  if (len < -1 || at + Math.max(len, 0) > recEnd) throw new RangeError('field runs past its record');
  return at + Math.max(len, 0);
}

/**
 * The headers whose name starts with `prefix` among the `count` records in body[start, end), at most
 * `max` of them (one per record: the first such header of each).
 */
export function findHeadersWithPrefix(body: Buffer, start: number, end: number, count: number, prefix: Buffer, max = 100): HeaderHit[] {
  const hits: HeaderHit[] = [];
  let p = start;
  for (let i = 0; i < count && hits.length < max; i++) {
    readVarint(body, p, end);
    const recEnd = varintResult.pos + varintResult.value;
    if (varintResult.value < 0 || recEnd > end) throw new RangeError('record runs past its batch');
    p = varintResult.pos + 1; // attributes
    readVarint(body, p, recEnd); // timestamp delta
    readVarint(body, varintResult.pos, recEnd); // offset delta
    p = skipField(body, varintResult.pos, recEnd); // key
    p = skipField(body, p, recEnd); // value
    readVarint(body, p, recEnd);
    const headerCount = varintResult.value;
    p = varintResult.pos;
    if (headerCount < 0 || headerCount > recEnd - p) throw new RangeError('bad header count');
    for (let h = 0; h < headerCount; h++) {
      readVarint(body, p, recEnd);
      const kl = varintResult.value;
      p = varintResult.pos;
      if (kl < 0 || p + kl > recEnd) throw new RangeError('header key runs past its record');
      if (startsWith(body, p, kl, prefix)) {
        hits.push({ index: i, key: body.toString('utf8', p, p + kl) });
        break;
      }
      p = skipField(body, p + kl, recEnd);
    }
    p = recEnd;
  }
  return hits;
}
