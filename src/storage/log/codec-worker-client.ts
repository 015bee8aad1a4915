// The main thread's side of codec-worker.ts: one worker thread, started on first use and unref'd while
// idle (it never keeps the process alive). A worker that dies fails what it was doing with a RangeError;
// the next request starts a new one.
import { Worker } from 'node:worker_threads';
import type { HeaderHit } from './record-headers.js';

type Reply = { id: number; out?: Uint8Array; hits?: HeaderHit[]; error?: string };

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

function failed(w: Worker, err: Error): void {
  if (worker !== w) return;
  worker = undefined;
  for (const p of waiting.values()) p.reject(new RangeError(`codec worker failed: ${err.message}`));
  waiting.clear();
}

function start(): Worker {
  const w = new Worker(new URL('./codec-worker.js', import.meta.url));
  w.on('message', (m: Reply) => {
    const p = waiting.get(m.id);
    waiting.delete(m.id);
    if (waiting.size === 0) w.unref();
    if (!p) return;
    if (m.error !== undefined) p.reject(new RangeError(m.error));
    else p.resolve(m);
  });
  w.on('error', (err) => failed(w, err));
  w.on('exit', (code) => failed(w, new Error(`exited with ${code}`)));
  return w;
}

/** Sends a request (its buffers are copied: they may be views of pooled memory). */
function request(msg: Record<string, unknown>): Promise<Reply> {
  const w = (worker ??= start());
  const id = nextId++;
  w.ref();
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    w.postMessage({ ...msg, id });
  });
}

/** zstd frames decompressed in the worker (sizes already checked by the caller). */
export async function zstdInWorker(data: Buffer): Promise<Buffer> {
  const { out } = await request({ op: 'zstd', data });
  return Buffer.from(out!.buffer, out!.byteOffset, out!.byteLength);
}

/**
 * The records of the (compressed) batch at buf[pos] whose header names start with `prefix`, found in the
 * worker: decompressed there within `maxBytes`. Rejects with the RangeError decompression or decoding gave.
 */
export async function scanBatchInWorker(buf: Buffer, pos: number, sizeBytes: number, prefix: string, maxBytes: number): Promise<HeaderHit[]> {
  const { hits } = await request({ op: 'scan', batch: buf.subarray(pos, pos + sizeBytes), prefix, maxBytes });
  return hits!;
}
