// Live-socket fuzzing of the Kafka port: random bytes, mutated/truncated/mis-sized valid frames, and valid
// headers with random API keys, versions and bodies, each on its own connection. The broker may answer or
// close the connection, but must never crash or disturb other connections: a bystander connection opened
// before the fuzzing answers after every run, and afterwards fresh raw connections and kafkajs still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { configureLogger } from '../../src/lib/logger.js';
import type { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { requestFrame } from './raw-frames.js';
import {
  decodeApiVersionsResponse,
  decodeMetadataResponse,
  defaultFetchRequest,
  defaultFetchRequest_FetchPartition,
  defaultFetchRequest_FetchTopic,
  encodeApiVersionsRequest,
  encodeFetchRequest,
  encodeMetadataRequest,
  encodeProduceRequest,
} from '../../src/protocols/kafka/codec/generated/index.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import { Compression } from '../../src/storage/log/compression.js';

const { Kafka, logLevel } = kafkajs;

// Loggers are taken at module load, so silence them before the broker's modules are imported: every
// rejected connection would otherwise log a warning.
configureLogger('silent');
const { startServer } = await import('../../src/server/server.js');
const { defaultConfig } = await import('../../src/server/config.js');

const RUNS = 150;
const SEED = 0x6a756e63; // "junc"
const SETTLE_MS = 60; // how long a fuzz connection waits for an answer or a close

const frame = (apiKey: number, apiVersion: number, correlationId: number, body: (w: KafkaWriter) => void, flexible = false) => requestFrame(apiKey, apiVersion, correlationId, body, flexible, 'fuzz');

const apiVersionsFrame = (v: number, correlationId: number) =>
  frame(18, v, correlationId, (w) => encodeApiVersionsRequest(w, v, { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' }), v >= 3);
const metadataFrame = (v: number, correlationId: number, topics: string[] | null) =>
  frame(3, v, correlationId, (w) =>
    encodeMetadataRequest(w, v, {
      topics: topics && topics.map((name) => ({ topicId: Buffer.alloc(16), name })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    }),
  );

/** Valid requests the mutations start from. */
function validFrames(): Buffer[] {
  const records = [
    { key: Buffer.from('k'), value: Buffer.from('fuzz value'), timestamp: 1_700_000_000_000, headers: [{ key: 'h', value: Buffer.from('x') }] },
    { key: null, value: Buffer.alloc(64, 3), timestamp: 1_700_000_000_001 },
  ];
  const produce = (compression: Compression) =>
    frame(0, 3, 7, (w) =>
      encodeProduceRequest(w, 3, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 1000,
        topicData: [{ name: 'fuzz', partitionData: [{ index: 0, records: encodeBatch(records, { compression }) }] }],
      }),
    );
  const fetch = frame(1, 4, 8, (w) =>
    encodeFetchRequest(w, 4, {
      ...defaultFetchRequest(),
      maxWaitMs: 10,
      maxBytes: 1 << 20,
      topics: [{ ...defaultFetchRequest_FetchTopic(), topic: 'fuzz', partitions: [{ ...defaultFetchRequest_FetchPartition(), partitionMaxBytes: 1 << 20 }] }],
    }),
  );
  return [
    apiVersionsFrame(0, 1),
    apiVersionsFrame(3, 2),
    metadataFrame(1, 3, null),
    metadataFrame(4, 4, ['fuzz']),
    produce(Compression.None),
    produce(Compression.Gzip),
    produce(Compression.Lz4),
    fetch,
  ];
}

type Input =
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'mutated'; base: number; flips: Array<{ at: number; byte: number }>; cut: number | null; size: number | null }
  | { kind: 'header'; apiKey: number; apiVersion: number; flexible: boolean; body: Uint8Array };

function inputArb(baseCount: number): fc.Arbitrary<Input> {
  return fc.oneof(
    fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 256 }) }),
    fc.record({
      kind: fc.constant('mutated' as const),
      base: fc.nat(baseCount - 1),
      flips: fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: null, freq: 2 }),
      size: fc.option(fc.oneof(fc.integer({ min: -8, max: 8 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), { nil: null, freq: 2 }),
    }),
    fc.record({
      kind: fc.constant('header' as const),
      apiKey: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: -(2 ** 15), max: 2 ** 15 - 1 })),
      apiVersion: fc.oneof(fc.integer({ min: -1, max: 16 }), fc.integer({ min: -(2 ** 15), max: 2 ** 15 - 1 })),
      flexible: fc.boolean(),
      body: fc.uint8Array({ maxLength: 256 }),
    }),
  );
}

function render(input: Input, bases: Buffer[]): Buffer {
  switch (input.kind) {
    case 'random':
      return Buffer.from(input.bytes);
    case 'mutated': {
      const b = Buffer.from(bases[input.base]!);
      for (const f of input.flips) b[f.at % b.length] = f.byte;
      // `size` is a delta on the real body length when small, an arbitrary int32 otherwise.
      if (input.size !== null) b.writeInt32BE(Math.abs(input.size) <= 8 ? b.length - 4 + input.size : input.size, 0);
      return input.cut === null ? b : b.subarray(0, input.cut % b.length);
    }
    case 'header':
      return frame(input.apiKey, input.apiVersion, 99, (w) => w.raw(Buffer.from(input.body)), input.flexible);
  }
}

type Outcome = 'answered' | 'closed' | 'waiting';

/** Writes `data` on a new connection; settles on the first complete response frame, a close, or SETTLE_MS. */
function poke(port: number, data: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1', () => s.write(data));
    let buf = Buffer.alloc(0);
    const done = (o: Outcome) => {
      clearTimeout(timer);
      s.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done('waiting'), SETTLE_MS);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) done('answered');
    });
    s.on('close', () => done('closed'));
    s.on('error', () => undefined);
  });
}

/** A long-lived raw connection that sends one request at a time and returns the response body (after the correlation id). */
class RawClient {
  private buf = Buffer.alloc(0);
  private waiter: ((body: Buffer) => void) | null = null;
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      if (this.waiter && this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const body = this.buf.subarray(4, 4 + this.buf.readInt32BE(0));
        this.buf = this.buf.subarray(4 + body.length);
        const w = this.waiter;
        this.waiter = null;
        w(body);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }
  static async open(port: number): Promise<RawClient> {
    const s = connect(port, '127.0.0.1');
    await new Promise((r, j) => s.once('connect', r).once('error', j));
    return new RawClient(s);
  }
  request(data: Buffer, correlationId: number): Promise<KafkaReader> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to correlation id ${correlationId}`)), 2000);
      this.waiter = (body) => {
        clearTimeout(timer);
        const r = new KafkaReader(body);
        assert.equal(r.int32(), correlationId);
        resolve(r);
      };
      this.socket.write(data);
    });
  }
  async apiVersions(v: number, correlationId: number): Promise<void> {
    const body = decodeApiVersionsResponse(await this.request(apiVersionsFrame(v, correlationId), correlationId), v);
    assert.equal(body.errorCode, 0);
    assert.ok(body.apiKeys.some((k) => k.apiKey === 18));
  }
  close(): void {
    this.socket.destroy();
  }
}

test('socket fuzzing of the Kafka port: the broker survives and keeps serving', { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'kfuzz-'));
  const server = await startServer({ ...defaultConfig, dataDir: join(tmp, 'data'), host: '127.0.0.1', kafkaPort: 0, httpPort: 'off', amqpPort: 'off', mqttPort: 'off', stompPort: 'off', fsync: 'never' });
  try {
    const port = server.port('kafka')!;
    await server.broker.createStream('/', 'fuzz', { partitions: 1 });
    const bases = validFrames();
    const bystander = await RawClient.open(port);
    await bystander.apiVersions(3, 1);

    const outcomes: Record<Outcome, number> = { answered: 0, closed: 0, waiting: 0 };
    let correlation = 1;
    await fc.assert(
      fc.asyncProperty(inputArb(bases.length), async (input) => {
        outcomes[await poke(port, render(input, bases))]++;
        assert.equal(bystander.closed, false, 'the bystander connection is still open');
        await bystander.apiVersions(correlation % 2 === 0 ? 0 : 3, ++correlation);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    assert.ok(outcomes.answered > 0 && outcomes.closed > 0, `outcomes ${JSON.stringify(outcomes)}`);

    // The bystander still answers a Metadata request.
    const md = decodeMetadataResponse(await bystander.request(metadataFrame(1, ++correlation, null), correlation), 1);
    assert.ok(md.brokers.length >= 1);
    assert.ok(md.topics.some((t) => t.name === 'fuzz'));
    bystander.close();

    // A fresh connection gets a well-formed ApiVersions answer.
    const fresh = await RawClient.open(port);
    await fresh.apiVersions(3, 12345);
    fresh.close();

    // kafkajs can still produce and consume.
    const kafka = new Kafka({ clientId: 'after-fuzz', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'after-fuzz', numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'after-fuzz', messages: [{ key: 'k', value: 'still alive' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'after-fuzz', sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'after-fuzz', fromBeginning: true });
    const value = await new Promise<string>((resolve, reject) => {
      consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) }).catch(reject);
    });
    assert.equal(value, 'still alive');
    await consumer.disconnect();
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
