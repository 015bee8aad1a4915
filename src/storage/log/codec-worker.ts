// Worker thread for decompression work that would hold the event loop (codec-worker-client.ts starts it):
//   { id, op: 'zstd', data }                          -> { id, out }  (fzstd is JavaScript)
//   { id, op: 'scan', batch, prefix, maxBytes }        -> { id, hits } (a produced compressed batch: its
//      records decompressed here and searched for header names starting with `prefix`; nothing large
//      crosses back to the main thread)
// Failures answer { id, error } with the RangeError's message (compression.ts isTooLarge reads it).
import { parentPort } from 'node:worker_threads';
import { decompress as zstdDecompress } from 'fzstd';
import { batchRecordCount, batchRecordsBody } from './record-batch.js';
import { findHeadersWithPrefix } from './record-headers.js';

type Request = { id: number; op: 'zstd'; data: Uint8Array } | { id: number; op: 'scan'; batch: Uint8Array; prefix: string; maxBytes: number };

parentPort!.on('message', (m: Request) => {
  try {
    if (m.op === 'zstd') {
      const out = zstdDecompress(m.data);
      parentPort!.postMessage({ id: m.id, out }, [out.buffer as ArrayBuffer]);
      return;
    }
    const batch = Buffer.from(m.batch.buffer, m.batch.byteOffset, m.batch.byteLength);
    const body = batchRecordsBody(batch, 0, m.maxBytes);
    const prefix = Buffer.from(m.prefix);
    const hits = body.buf.indexOf(prefix, body.start) < 0 ? [] : findHeadersWithPrefix(body.buf, body.start, body.end, batchRecordCount(batch, 0), prefix);
    parentPort!.postMessage({ id: m.id, hits });
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as Error).message });
  }
});
