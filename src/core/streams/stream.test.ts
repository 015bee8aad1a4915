import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../storage/fs/memory-fs.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import { decodeBatch, encodeBatch } from '../../storage/log/record-batch.js';
import { ManualClock } from '../../lib/clock.js';
import { BrokerError } from '../../lib/errors.js';
import { murmur2, toPositive } from './murmur2.js';
import { defaultStreamConfig, Stream, type PartitionLogFactory } from './stream.js';

const fs = new MemoryFileSystem();
let n = 0;
const factory = (): PartitionLogFactory => {
  const id = n++;
  return (p, c) => FilePartitionLog.open({ fs, dir: `/s${id}/${p}`, segmentBytesMax: c.segmentBytes, retentionMs: c.retentionMs, retentionBytes: c.retentionBytes, fsync: 'never' });
};

test("murmur2 matches Kafka's test vectors", () => {
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [s, h] of cases) assert.equal(murmur2(Buffer.from(s)), h, s);
  assert.equal(toPositive(-1), 0x7fffffff);
});

test('partitions, raw batch append, messages, reads by offset and time, add partitions', async () => {
  const s = await Stream.open('/', 't', { ...defaultStreamConfig, partitions: 3 }, factory());
  const r = await s.appendBatches(1, encodeBatch([{ key: null, value: Buffer.from('k1'), timestamp: 100 }, { key: null, value: Buffer.from('k2'), timestamp: 200 }]));
  assert.deepEqual([r.baseOffset, r.lastOffset], [0, 1]);
  const key = Buffer.from('user-42');
  await s.appendMessages([{ key, value: Buffer.from('x'), timestamp: 300, headers: [], properties: { contentType: 'text/plain' } }]);
  const p = toPositive(murmur2(key)) % 3;
  const got = await s.readMessages(p, 0, 10);
  assert.equal(got.at(-1)!.message.properties.contentType, 'text/plain');
  assert.equal(await s.offsetForTime(1, 150), 1);
  assert.equal(s.latestOffset(1), p === 1 ? 3 : 2);
  assert.equal(s.earliestOffset(1), 0);
  const raw = await s.read(1, 0, 1 << 20);
  assert.equal(decodeBatch(raw.data, 0).length, 2);
  await s.addPartitions(5);
  assert.equal(s.partitionCount, 5);
  await assert.rejects(s.addPartitions(2), BrokerError);
  assert.throws(() => s.partition(9), BrokerError);
  await s.close();
});

test('LogAppendTime overrides record timestamps', async () => {
  const clock = new ManualClock(5_000);
  const s = await Stream.open('/', 'lat', { ...defaultStreamConfig, messageTimestampType: 'LogAppendTime' }, factory(), clock);
  const r = await s.appendBatches(0, encodeBatch([{ key: null, value: Buffer.from('a'), timestamp: 1 }]));
  assert.equal(r.logAppendTimeMs, 5_000);
  assert.equal((await s.readMessages(0, 0, 1))[0]!.message.timestamp, 5_000);
  await s.close();
});

test('waitForData resolves on append or after the wait', async () => {
  const s = await Stream.open('/', 'w', { ...defaultStreamConfig, partitions: 2 }, factory());
  const t0 = Date.now();
  assert.equal(await s.waitForData([{ partition: 0, offset: 0 }], 30), false);
  assert.ok(Date.now() - t0 >= 25);
  const waiting = s.waitForData([{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }], 5_000);
  await s.appendMessages([{ key: null, value: Buffer.from('x'), timestamp: 1, headers: [], properties: {} }], 1);
  assert.equal(await waiting, true);
  await s.close();
});

test('bad configs are refused', async () => {
  await assert.rejects(Stream.open('/', 'bad', { ...defaultStreamConfig, partitions: 0 }, factory()), BrokerError);
  await assert.rejects(Stream.open('/', 'bad', { ...defaultStreamConfig, retentionMs: -5 }, factory()), BrokerError);
});

test('idempotent producers: a retried batch is not appended twice; gaps and old epochs are refused', async () => {
  const s = await Stream.open('/', 'idem', { ...defaultStreamConfig }, factory());
  const batch = (seq: number, epoch = 0, n = 2) =>
    encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`s${seq + i}`), timestamp: 1 })), { producerId: 7n, producerEpoch: epoch, baseSequence: seq });
  const a = await s.appendBatches(0, batch(0));
  const again = await s.appendBatches(0, batch(0));
  assert.equal(again.duplicate, true);
  assert.deepEqual([again.baseOffset, again.lastOffset], [a.baseOffset, a.lastOffset]);
  assert.equal(s.latestOffset(0), 2);
  await s.appendBatches(0, batch(2));
  await assert.rejects(s.appendBatches(0, batch(9)), (e: unknown) => e instanceof BrokerError && e.code === 'out_of_order_sequence');
  await s.appendBatches(0, batch(0, 1));
  await assert.rejects(s.appendBatches(0, batch(2, 0)), (e: unknown) => e instanceof BrokerError && e.code === 'invalid_producer_epoch');
  assert.equal(s.latestOffset(0), 6);
  await s.close();
});

test('idempotent producers across a restart: the producer state is rebuilt from the log tail', async () => {
  const f = factory();
  const batch = (seq: number, epoch = 0, n = 3) =>
    encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`r${seq + i}`), timestamp: 1 })), { producerId: 11n, producerEpoch: epoch, baseSequence: seq });
  let s = await Stream.open('/', 'idem-restart', { ...defaultStreamConfig }, f);
  await s.appendBatches(0, batch(0));
  const b = await s.appendBatches(0, batch(3));
  await s.close();
  s = await Stream.open('/', 'idem-restart', { ...defaultStreamConfig }, f);
  const retried = await s.appendBatches(0, batch(3));
  assert.equal(retried.duplicate, true, 'the retry of the last batch is recognised after the restart');
  assert.deepEqual([retried.baseOffset, retried.lastOffset], [b.baseOffset, b.lastOffset]);
  await assert.rejects(s.appendBatches(0, batch(9)), (e: unknown) => e instanceof BrokerError && e.code === 'out_of_order_sequence');
  await s.appendBatches(0, batch(6));
  assert.equal(s.latestOffset(0), 9);
  await s.close();
});

test('idempotent producers, pipelined: the next batch is accepted while the previous is being written; a retry of an in-flight batch gets its offsets', async () => {
  const s = await Stream.open('/', 'idem-pipelined', { ...defaultStreamConfig }, factory());
  const batch = (seq: number, n = 2) =>
    encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`p${seq + i}`), timestamp: 1 })), { producerId: 21n, producerEpoch: 0, baseSequence: seq });
  // None of these is awaited before the next starts, as on a connection that pipelines produce requests.
  const first = s.appendBatches(0, batch(0));
  const second = s.appendBatches(0, batch(2));
  const retryOfSecond = s.appendBatches(0, batch(2));
  const third = s.appendBatches(0, batch(4));
  const [a, b, r, c] = await Promise.all([first, second, retryOfSecond, third]);
  assert.deepEqual([a.baseOffset, b.baseOffset, c.baseOffset], [0, 2, 4]);
  assert.equal(r.duplicate, true);
  assert.deepEqual([r.baseOffset, r.lastOffset], [b.baseOffset, b.lastOffset]);
  assert.equal(s.latestOffset(0), 6);
  // A gap is still refused after pipelined appends.
  await assert.rejects(s.appendBatches(0, batch(9)), (e: unknown) => e instanceof BrokerError && e.code === 'out_of_order_sequence');
  const records = (await s.readMessages(0, 0, 10)).map((m) => m.message.value!.toString());
  assert.deepEqual(records, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
  await s.close();
});

test('idempotent producers: a batch whose append fails gives its sequence back', async () => {
  const s = await Stream.open('/', 'idem-fail', { ...defaultStreamConfig }, factory());
  const batch = (seq: number, n = 2) =>
    encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`f${seq + i}`), timestamp: 1 })), { producerId: 31n, producerEpoch: 0, baseSequence: seq });
  await s.appendBatches(0, batch(0));
  const bad = batch(2);
  bad.writeUInt8(bad[bad.length - 1]! ^ 0xff, bad.length - 1); // breaks the CRC
  await assert.rejects(s.appendBatches(0, bad), (e: unknown) => e instanceof BrokerError && e.code === 'corrupt_data');
  const ok = await s.appendBatches(0, batch(2));
  assert.equal(ok.baseOffset, 2, 'the same sequence is accepted once the corrupt batch was refused');
  await s.close();
});

test('idempotent producers, pipelined: after two failed appends in a row the retry of the first is appended, not answered with the old failure', async () => {
  const { ProducerState } = await import('./producer-state.js');
  const ps = new ProducerState();
  const failed = () => {
    const p = Promise.reject(new Error('disk'));
    p.catch(() => undefined);
    return p;
  };
  const s0 = ps.begin(5n, 0, 0, 3, Promise.resolve({ baseOffset: 0, lastOffset: 2 }));
  s0({ baseOffset: 0, lastOffset: 2 });
  ps.check(5n, 0, 3, 3);
  const s1 = ps.begin(5n, 0, 3, 3, failed());
  ps.check(5n, 0, 6, 3);
  const s2 = ps.begin(5n, 0, 6, 3, failed());
  s1(undefined);
  s2(undefined);
  assert.deepEqual(ps.check(5n, 0, 3, 3), { kind: 'append' }, 'the failed batch is retried from where the last stored one ended');
  assert.deepEqual(ps.check(5n, 0, 0, 3), { kind: 'duplicate', baseOffset: 0, lastOffset: 2 });
});

test('idempotent producers: a corrupt batch is refused before its sequence is taken', async () => {
  const s = await Stream.open('/', 'idem-corrupt', { ...defaultStreamConfig }, factory());
  const batch = (seq: number, n = 2) =>
    encodeBatch(Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`c${seq + i}`), timestamp: 1 })), { producerId: 41n, producerEpoch: 0, baseSequence: seq });
  await s.appendBatches(0, batch(0));
  const bad = batch(2);
  bad.writeUInt8(bad[bad.length - 1]! ^ 0xff, bad.length - 1);
  const refused = s.appendBatches(0, bad);
  const next = s.appendBatches(0, batch(4)); // pipelined right behind the corrupt one
  await assert.rejects(refused, (e: unknown) => e instanceof BrokerError && e.code === 'corrupt_data');
  await assert.rejects(next, (e: unknown) => e instanceof BrokerError && e.code === 'out_of_order_sequence', 'no gap: the batch after the refused one is out of order');
  assert.equal((await s.appendBatches(0, batch(2))).baseOffset, 2);
  await s.close();
});
