// Kafka consumers see only durable records (docs/architecture.md "Visibility"): under fsync=always a Fetch,
// its high watermark, ListOffsets latest and a long poll's wake-up all wait for the fdatasync covering a
// record; a power loss never takes a record a consumer was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawKafka } from './raw-call.js';
import { startMemoryBroker } from '../memory-broker.js';
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

const TOPIC = 'vis';

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

test('Kafka Fetch, high watermark, ListOffsets and long polls do not show a record before its fdatasync completes; a power loss never takes a fetched record', { timeout: 20_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'always' });
  await mb.broker.createStream('/', TOPIC, { partitions: 1 });
  const k = await RawKafka.connect(mb.kafkaPort);
  assert.equal(await produce(k, TOPIC, ['a']), 0);

  const release = mb.fs.holdSyncs(`/streams/${TOPIC}/`);
  let acked = false;
  // Responses on one connection keep request order: the consumer uses its own connection.
  const producer = await RawKafka.connect(mb.kafkaPort);
  const pending = produce(producer, TOPIC, ['b']).then((code) => ((acked = true), code));
  const log = mb.broker.getStream('/', TOPIC).partition(0);
  for (let i = 0; i < 1000 && log.nextOffset < 2; i++) await sleep(1);
  assert.equal(log.nextOffset, 2, 'b is written, its fdatasync held');

  // A consumer that polls now sees only 'a' and a high watermark of 1.
  const seen: string[] = [];
  const f = await fetch(k, TOPIC, 0n);
  const part = f.responses[0]!.partitions[0]!;
  assert.equal(part.errorCode, 0);
  seen.push(...fetchedValues(f));
  assert.deepEqual(seen, ['a']);
  assert.equal(part.highWatermark, 1n);
  assert.equal(part.lastStableOffset, 1n);
  const latest = await listOffset(k, TOPIC, -1n);
  assert.equal(latest.errorCode, 0);
  assert.equal(latest.offset, 1n, 'ListOffsets latest is the high watermark');
  // A long poll at offset 1 is not woken by the write; only by the sync.
  let polled: FetchResponse | undefined;
  const poll = fetch(k, TOPIC, 1n, 10_000).then((r) => (polled = r));
  await sleep(100);
  assert.equal(polled, undefined, 'the long poll is still waiting');
  assert.equal(acked, false);

  // Power loss now: what the consumer saw is all there.
  const crashed = await startMemoryBroker({ fs: mb.fs.crash(), fsync: 'always' });
  const k2 = await RawKafka.connect(crashed.kafkaPort);
  const after = fetchedValues(await fetch(k2, TOPIC, 0n));
  for (const v of seen) assert.ok(after.includes(v), `${v} was fetched, then lost`);
  k2.close();
  await crashed.close();

  release();
  assert.equal(await pending, 0);
  await poll;
  assert.deepEqual(fetchedValues(polled!), ['b']);
  assert.equal(polled!.responses[0]!.partitions[0]!.highWatermark, 2n);
  assert.equal((await listOffset(k, TOPIC, -1n)).offset, 2n);
  k.close();
  producer.close();
  await mb.close();
});
