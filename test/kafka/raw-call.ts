// A minimal Kafka client over raw frames (generated codecs): one request at a time per call, responses
// matched by correlation id. Non-flexible versions only (response header v0).
import { connect, type Socket } from 'node:net';
import type { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { frameSplitter, requestFrame } from './raw-frames.js';
import { encodeBatch, decodeBatch, BATCH_LENGTH_PREFIX_BYTES } from '../../src/storage/log/record-batch.js';
import {
  decodeFetchResponse,
  decodeListOffsetsResponse,
  decodeProduceResponse,
  encodeFetchRequest,
  encodeListOffsetsRequest,
  encodeProduceRequest,
  type FetchResponse,
} from '../../src/protocols/kafka/codec/generated/index.js';

export class RawKafka {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: KafkaReader) => void>();
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on(
      'data',
      frameSplitter((frame) => {
        const r = new KafkaReader(frame);
        const id = r.int32();
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        w?.(r);
      }),
    );
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawKafka> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawKafka(s)));
      s.once('error', reject);
    });
  }

  call<T>(apiKey: number, version: number, body: (w: KafkaWriter) => void, decode: (r: KafkaReader) => T): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (r) => {
        try {
          resolve(decode(r));
        } catch (err) {
          reject(err as Error);
        }
      });
      this.socket.once('close', () => reject(new Error('connection closed')));
      this.socket.write(requestFrame(apiKey, version, id, body));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- a few requests (partition 0 of one topic) ----

/** Produce v3 acks=-1 of `values` (or of `batch` as given); resolves with the partition's error code. */
export function produce(k: RawKafka, topic: string, values: string[], batch?: Buffer): Promise<number> {
  const records = batch ?? encodeBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: Date.now() })));
  return k
    .call(0, 3, (w) => encodeProduceRequest(w, 3, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }), (r) => decodeProduceResponse(r, 3))
    .then((res) => res.responses[0]!.partitionResponses[0]!.errorCode);
}

export function fetch(k: RawKafka, topic: string, offset: bigint, maxWaitMs = 0): Promise<FetchResponse> {
  return k.call(
    1,
    11,
    (w) =>
      encodeFetchRequest(w, 11, {
        clusterId: null,
        replicaId: -1,
        replicaState: { replicaId: -1, replicaEpoch: -1n },
        maxWaitMs,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, topicId: Buffer.alloc(16), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: Buffer.alloc(16) }] }],
        forgottenTopicsData: [],
        rackId: '',
      }),
    (r) => decodeFetchResponse(r, 11),
  );
}

export function listOffset(k: RawKafka, topic: string, timestamp: bigint): Promise<{ errorCode: number; offset: bigint }> {
  return k
    .call(2, 3, (w) => encodeListOffsetsRequest(w, 3, { replicaId: -1, isolationLevel: 0, timeoutMs: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }] }), (r) =>
      decodeListOffsetsResponse(r, 3),
    )
    .then((res) => res.topics[0]!.partitions[0]!);
}

/** Values of the records a fetch returned. */
export function fetchedValues(res: FetchResponse): string[] {
  const data = res.responses[0]!.partitions[0]!.records ?? Buffer.alloc(0);
  const out: string[] = [];
  for (let p = 0; p + BATCH_LENGTH_PREFIX_BYTES <= data.length; p += data.readInt32BE(p + 8) + BATCH_LENGTH_PREFIX_BYTES) {
    for (const r of decodeBatch(data, p)) out.push(r.value!.toString());
  }
  return out;
}
