// Requests pipelined on one connection: produce requests (large ones arriving in many small TCP
// segments, small ones in one) and other requests are answered in request order, with offsets in
// request order; a bad request after them closes the connection only after the earlier answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import type { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { frameSplitter, requestFrame } from './raw-frames.js';
import { decodeFetchResponse, decodeMetadataResponse, decodeProduceResponse, defaultFetchRequest, defaultFetchRequest_FetchPartition, defaultFetchRequest_FetchTopic, encodeFetchRequest, encodeMetadataRequest, encodeProduceRequest } from '../../src/protocols/kafka/codec/generated/index.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';

const frame = (apiKey: number, apiVersion: number, correlationId: number, body: (w: KafkaWriter) => void) => requestFrame(apiKey, apiVersion, correlationId, body);

/** A Fetch of partition 0 from offset 0 that does not wait: it sees what was appended before it started. */
const fetchNow = (correlationId: number) =>
  frame(1, 4, correlationId, (w) => {
    const req = defaultFetchRequest();
    req.replicaId = -1;
    req.maxWaitMs = 0;
    req.minBytes = 0;
    req.maxBytes = 16 << 20;
    req.topics = [{ ...defaultFetchRequest_FetchTopic(), topic: 'pipe', partitions: [{ ...defaultFetchRequest_FetchPartition(), partition: 0, fetchOffset: 0n, partitionMaxBytes: 16 << 20 }] }];
    encodeFetchRequest(w, 4, req);
  });

const produce = (correlationId: number, values: Buffer[]) =>
  frame(0, 7, correlationId, (w) =>
    encodeProduceRequest(w, 7, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'pipe', partitionData: [{ index: 0, records: encodeBatch(values.map((value) => ({ key: null, value, timestamp: Date.now() }))) }] }],
    }),
  );

test('pipelined requests are answered in order; a bad request closes the connection after the earlier answers', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kpipe-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'always' });
  const port = server.port('kafka')!;
  await server.broker.createStream('/', 'pipe', { partitions: 1 });
  const big = (tag: number, n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(10_000, (tag * 31 + i) & 0xff));
  const requests = [
    produce(1, big(1, 30)), // ~300 KB: received into a pooled buffer
    produce(2, [Buffer.from('small-a'), Buffer.from('small-b')]),
    frame(3, 5, 3, (w) => encodeMetadataRequest(w, 5, { topics: [{ name: 'pipe', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })),
    produce(4, big(4, 50)),
    produce(5, [Buffer.from('small-c')]),
    fetchNow(6), // runs after every produce before it has been answered
    frame(0x7abc, 0, 7, () => undefined), // an unknown API key: Kafka closes the connection
  ];
  const bytes = Buffer.concat(requests);
  const responses: Buffer[] = [];
  const closed = await new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1', async () => {
      // Dribble the bytes in uneven pieces so that frames straddle reads.
      for (let p = 0, i = 0; p < bytes.length; i++) {
        const n = [7, 1500, 65_536, 3, 200_000][i % 5]!;
        s.write(bytes.subarray(p, p + n));
        p += n;
        if (i % 4 === 0) await new Promise((r) => setImmediate(r));
      }
    });
    s.on('data', frameSplitter((f) => responses.push(f)));
    s.on('close', () => resolve(true));
    s.on('error', () => undefined);
  });
  assert.equal(closed, true);
  assert.deepEqual(
    responses.map((r) => r.readInt32BE(0)),
    [1, 2, 3, 4, 5, 6],
    'every answer before the bad request arrives, in request order',
  );
  const offsets: number[] = [];
  for (const i of [0, 1, 3, 4]) {
    const r = new KafkaReader(responses[i]!);
    r.int32();
    const res = decodeProduceResponse(r, 7);
    const p = res.responses[0]!.partitionResponses[0]!;
    assert.equal(p.errorCode, 0);
    offsets.push(Number(p.baseOffset));
  }
  assert.deepEqual(offsets, [0, 30, 32, 82]);
  const m = new KafkaReader(responses[2]!);
  m.int32();
  assert.equal(decodeMetadataResponse(m, 5).topics[0]!.name, 'pipe');
  const f = new KafkaReader(responses[5]!);
  f.int32();
  const fetched = decodeFetchResponse(f, 4).responses[0]!.partitions[0]!;
  assert.equal(fetched.highWatermark, 83n, 'the fetch saw every append of the produces before it');
  assert.ok(fetched.records!.length > 800_000);
  // What was written is what was sent.
  const stored = await server.broker.getStream('/', 'pipe').readMessages(0, 0, 100);
  assert.equal(stored.length, 83);
  assert.equal(stored[0]!.message.value!.length, 10_000);
  assert.equal(stored[0]!.message.value![0], 31 & 0xff);
  assert.equal(stored[30]!.message.value!.toString(), 'small-a');
  assert.equal(stored[81]!.message.value![0], (4 * 31 + 49) & 0xff);
  assert.equal(stored[82]!.message.value!.toString(), 'small-c');
  await server.close();
});

test('a malformed request ends the connection: pipelined produces after it are not appended', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kpipe2-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  await server.broker.createStream('/', 'pipe', { partitions: 1 });
  const malformed = frame(0, 7, 2, (w) => w.int16(-5)); // a Produce body cut short
  const bytes = Buffer.concat([produce(1, [Buffer.from('kept')]), malformed, produce(3, [Buffer.from('never')]), produce(4, [Buffer.from('never')])]);
  const responses: Buffer[] = [];
  await new Promise<void>((resolve) => {
    const s = connect(server.port('kafka')!, '127.0.0.1', () => s.write(bytes));
    s.on('data', frameSplitter((f) => responses.push(f)));
    s.on('close', () => resolve());
    s.on('error', () => undefined);
  });
  assert.deepEqual(responses.map((r) => r.readInt32BE(0)), [1]);
  const stored = await server.broker.getStream('/', 'pipe').readMessages(0, 0, 10);
  assert.deepEqual(stored.map((m) => m.message.value!.toString()), ['kept']);
  await server.close();
});
