// Ranges at the edge (issue 9 items 8 and 20): corrupt batches are refused before LogAppendTime rewrites
// them; offsets near 2^63, beyond 2^53 or negative get Kafka's errors, never a crash or wrong data;
// segment.bytes is capped at 2^31 - 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { RawKafka, fetch, fetchedValues, listOffset, produce } from './raw-call.js';
import { startMemoryBroker } from '../memory-broker.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import * as g from '../../src/protocols/kafka/codec/generated/index.js';

const batchOf = (values: string[]) => encodeBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: 1_000 })));

test('a corrupt batch produced to a LogAppendTime topic is refused with CORRUPT_MESSAGE, not stored with a fresh CRC', { timeout: 15_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'never' });
  await mb.broker.createStream('/', 'lat', { partitions: 1, messageTimestampType: 'LogAppendTime' });
  const k = await RawKafka.connect(mb.kafkaPort);
  const bad = batchOf(['hello', 'world']);
  bad[bad.length - 3] ^= 0xff; // a byte inside the last record, after the CRC was computed
  assert.equal(await produce(k, 'lat', [], bad), 2, 'CORRUPT_MESSAGE');
  assert.equal(mb.broker.getStream('/', 'lat').partition(0).nextOffset, 0, 'nothing stored');
  assert.equal(await produce(k, 'lat', ['ok']), 0);
  assert.deepEqual(fetchedValues(await fetch(k, 'lat', 0n)), ['ok']);
  k.close();
  await mb.close();
});

test('a produced batch claiming more offsets than it has records is refused, and the partition keeps working', { timeout: 15_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'never' });
  await mb.broker.createStream('/', 'gap', { partitions: 1 });
  const k = await RawKafka.connect(mb.kafkaPort);
  for (let i = 0; i < 100; i++) {
    const b = batchOf([`x${i}`.padEnd(60, '.')]);
    b.writeInt32BE(2 ** 31 - 1, 23); // lastOffsetDelta: 2^31 offsets for one record
    b.writeUInt32BE(crc32c(b.subarray(21)), 17);
    assert.equal(await produce(k, 'gap', [], b), 2, 'CORRUPT_MESSAGE');
  }
  assert.equal(await produce(k, 'gap', ['a', 'b']), 0);
  assert.deepEqual(fetchedValues(await fetch(k, 'gap', 0n)), ['a', 'b']);
  assert.equal((await listOffset(k, 'gap', -1n)).offset, 2n);
  k.close();
  await mb.close();
});

test('Fetch at offsets beyond 2^53, near 2^63 or negative gets OFFSET_OUT_OF_RANGE; ListOffsets answers and the connection stays', { timeout: 15_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'never' });
  await mb.broker.createStream('/', 'big', { partitions: 1 });
  const k = await RawKafka.connect(mb.kafkaPort);
  assert.equal(await produce(k, 'big', ['a']), 0);
  for (const o of [2n ** 63n - 1n, 2n ** 53n + 1n, BigInt(Number.MAX_SAFE_INTEGER), -1n, -2n, -(2n ** 63n)]) {
    const p = (await fetch(k, 'big', o)).responses[0]!.partitions[0]!;
    assert.equal(p.errorCode, 1, `fetch at ${o}`);
    assert.equal(p.records?.length ?? 0, 0);
  }
  for (const ts of [2n ** 63n - 1n, -(2n ** 63n), -3n]) {
    const r = await listOffset(k, 'big', ts);
    assert.equal(r.errorCode, 0, `ListOffsets ${ts}`);
  }
  assert.equal((await listOffset(k, 'big', 2n ** 63n - 1n)).offset, -1n, 'no record that late');
  assert.deepEqual(fetchedValues(await fetch(k, 'big', 0n)), ['a']);
  assert.equal(k.closed, false);
  k.close();
  await mb.close();
});

test('OffsetCommit of an offset beyond 2^53 gets OFFSET_OUT_OF_RANGE for that partition; the others commit and OffsetFetch answers', { timeout: 15_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'never' });
  await mb.broker.createStream('/', 'oc', { partitions: 2 });
  const k = await RawKafka.connect(mb.kafkaPort);
  const commit = { ...g.defaultOffsetCommitRequest(), groupId: 'g1', generationIdOrMemberEpoch: -1, memberId: '' };
  commit.topics = [
    {
      name: 'oc',
      partitions: [
        { ...g.defaultOffsetCommitRequest_OffsetCommitRequestPartition(), partitionIndex: 0, committedOffset: 2n ** 63n - 1n },
        { ...g.defaultOffsetCommitRequest_OffsetCommitRequestPartition(), partitionIndex: 1, committedOffset: 7n },
      ],
    },
  ];
  const cr = await k.call(8, 2, (w) => g.encodeOffsetCommitRequest(w, 2, commit), (r) => g.decodeOffsetCommitResponse(r, 2));
  assert.deepEqual(cr.topics[0]!.partitions.map((p) => p.errorCode), [1, 0]);
  const fetchReq = { ...g.defaultOffsetFetchRequest(), groupId: 'g1', topics: [{ ...g.defaultOffsetFetchRequest_OffsetFetchRequestTopic(), name: 'oc', partitionIndexes: [0, 1] }] };
  const fr = await k.call(9, 1, (w) => g.encodeOffsetFetchRequest(w, 1, fetchReq), (r) => g.decodeOffsetFetchResponse(r, 1));
  const got = new Map(fr.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset]));
  assert.equal(got.get(1), 7n);
  assert.notEqual(got.get(0), 2n ** 63n, 'never a wrong offset');
  assert.equal(k.closed, false);
  k.close();
  await mb.close();
});

test('CreateTopics with segment.bytes over 2^31 - 1 (what 32-bit segment indexes address) gets INVALID_CONFIG', { timeout: 15_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'never' });
  const k = await RawKafka.connect(mb.kafkaPort);
  const create = async (name: string, segmentBytes: string) => {
    const req = { ...g.defaultCreateTopicsRequest(), timeoutMs: 5000 };
    req.topics = [{ ...g.defaultCreateTopicsRequest_CreatableTopic(), name, numPartitions: 1, replicationFactor: 1, configs: [{ name: 'segment.bytes', value: segmentBytes }] }];
    const res = await k.call(19, 2, (w) => g.encodeCreateTopicsRequest(w, 2, req), (r) => g.decodeCreateTopicsResponse(r, 2));
    return res.topics[0]!.errorCode;
  };
  assert.equal(await create('s1', String(2 ** 32)), 40);
  assert.equal(await create('s2', String(2 ** 31)), 40);
  assert.equal(await create('s3', '13'), 40);
  assert.equal(await create('s4', String(2 ** 31 - 1)), 0);
  assert.equal(mb.broker.findStream('/', 's1'), undefined);
  k.close();
  await mb.close();
});
