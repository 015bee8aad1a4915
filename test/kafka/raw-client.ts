// A minimal Kafka client over raw frames for tests: one socket, requests by api key and version with the
// generated codecs, responses matched by correlation id (pipelining allowed), and a way to see the close.
import { connect, type Socket } from 'node:net';
import { apiTable } from '../../src/protocols/kafka/codec/api-table.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { defaultFetchRequest, defaultFetchRequest_FetchPartition, defaultFetchRequest_FetchTopic, type FetchRequest } from '../../src/protocols/kafka/codec/generated/index.js';
import { frameSplitter, requestFrame } from './raw-frames.js';

export class RawKafkaClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  /** Resolves when the broker closes the connection. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on(
      'data',
      frameSplitter((f) => {
        const id = f.readInt32BE(0);
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        w?.resolve(f);
      }),
    );
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        for (const w of this.waiting.values()) w.reject(new Error('connection closed'));
        this.waiting.clear();
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawKafkaClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawKafkaClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends a request without waiting; the promise holds the decoded response body. */
  request<T = any>(apiKey: number, version: number, body: unknown): Promise<T> {
    const api = apiTable.get(apiKey)!;
    const flexible = version >= api.flexibleFrom;
    const id = this.nextId++;
    const frame = requestFrame(apiKey, version, id, (w) => api.encodeRequest(w, version, body as never), flexible);
    const p = new Promise<Buffer>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.socket.write(frame);
    return p.then((f) => {
      const r = new KafkaReader(f);
      r.int32();
      if (flexible && apiKey !== 18) r.skipTaggedFields();
      return api.decodeResponse(r, version) as T;
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A Fetch request body (any version 4-11) for partitions of one topic, from the given offsets. */
export function fetchBody(topic: string, partitions: Array<{ partition: number; offset: bigint; maxBytes: number }>, opts: { maxWaitMs?: number; minBytes?: number; maxBytes?: number } = {}): FetchRequest {
  return {
    ...defaultFetchRequest(),
    replicaId: -1,
    maxWaitMs: opts.maxWaitMs ?? 0,
    minBytes: opts.minBytes ?? 0,
    maxBytes: opts.maxBytes ?? 1 << 20,
    topics: [{ ...defaultFetchRequest_FetchTopic(), topic, partitions: partitions.map((p) => ({ ...defaultFetchRequest_FetchPartition(), partition: p.partition, fetchOffset: p.offset, partitionMaxBytes: p.maxBytes })) }],
  };
}

/** Record batches of a record set: [baseOffset, records, bytes, attributes] per batch. */
export function batchesOf(data: Buffer): Array<{ baseOffset: number; count: number; bytes: number; attributes: number }> {
  const out = [];
  for (let p = 0; p + 61 <= data.length; ) {
    const bytes = data.readInt32BE(p + 8) + 12;
    if (p + bytes > data.length) break;
    out.push({ baseOffset: Number(data.readBigInt64BE(p)), count: data.readInt32BE(p + 57), bytes, attributes: data.readInt16BE(p + 21) });
    p += bytes;
  }
  return out;
}
