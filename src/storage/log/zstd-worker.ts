// Worker thread for zstd decompression (fzstd is JavaScript: a large batch would hold the event loop).
// Messages in: { id, data: Uint8Array }; out: { id, out: Uint8Array } (transferred) or { id, error }.
// The caller (compression.ts) has already checked the frames' declared sizes against the limit.
import { parentPort } from 'node:worker_threads';
import { decompress } from 'fzstd';

parentPort!.on('message', (m: { id: number; data: Uint8Array }) => {
  try {
    const out = decompress(m.data);
    parentPort!.postMessage({ id: m.id, out }, [out.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as Error).message });
  }
});
