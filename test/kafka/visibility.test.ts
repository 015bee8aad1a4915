// Kafka consumers see only durable records (docs/architecture.md "Visibility"): under fsync=always a Fetch,
// its high watermark, ListOffsets latest and a long poll's wake-up all wait for the fdatasync covering a
// record; a power loss never takes a record a consumer was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawKafka, fetch, fetchedValues, listOffset, produce } from './raw-call.js';
import { startMemoryBroker } from '../memory-broker.js';
import type { FetchResponse } from '../../src/protocols/kafka/codec/generated/index.js';

const TOPIC = 'vis';

test('Kafka Fetch, high watermark, ListOffsets and long polls do not show a record before its fdatasync completes; a power loss never takes a fetched record', { timeout: 20_000 }, async () => {
  const mb = await startMemoryBroker({ fsync: 'always' });
  await mb.broker.createStream('/', TOPIC, { partitions: 1 });
  const k = await RawKafka.connect(mb.kafkaPort);
  assert.equal(await produce(k, TOPIC, ['a']), 0);

  const release = mb.fs.holdSyncs(`/streams/${TOPIC}~`); // the topic's incarnation directory
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
