// Crash test for Kafka: `junction serve` runs as a real process with fsync=always; kafkajs keeps many
// produce requests (acks=all) in flight on its connection, which the broker pipelines; the broker is
// SIGKILLed mid-stream, 3 times. After each kill the partition's log (opened as the broker would open it)
// holds every acknowledged record at the offset its acknowledgement gave, and nothing never produced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveChild } from './serve-child.js';
import kafkajs from 'kafkajs';
import { NodeFileSystem } from '../../src/storage/fs/node-fs.js';
import { FilePartitionLog } from '../../src/storage/log/partition-log.js';

const { Kafka, logLevel } = kafkajs;

/** Every record of partition 0 of topic `kc`, read from the files after the kill: offset → value. */
async function readPartition(dataDir: string): Promise<Map<number, string>> {
  // The topic's directory is its incarnation's: `kc~<incarnation id>`.
  const streams = join(dataDir, 'vhosts', '%2F', 'streams');
  const dir = readdirSync(streams).filter((n) => n.startsWith('kc~'));
  assert.equal(dir.length, 1, 'one incarnation of kc');
  const log = await FilePartitionLog.open({ fs: new NodeFileSystem(), dir: join(streams, dir[0]!, '0'), fsync: 'never' });
  const out = new Map<number, string>();
  for (let o = log.logStartOffset; o < log.nextOffset; ) {
    const records = await log.readRecords(o, 10_000);
    if (records.length === 0) break;
    for (const r of records) out.set(r.offset, r.value!.toString());
    o = records[records.length - 1]!.offset + 1;
  }
  await log.close();
  return out;
}

test('SIGKILL while kafkajs pipelines acks=all produces: every acknowledged record survives at its offset, 3 rounds', { timeout: 120_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'kafka-crash-')), 'data');
  const acked = new Map<string, number>(); // value → offset from the acknowledgement
  const produced = new Set<string>();
  let next = 0;
  for (let round = 0; round < 3; round++) {
    const { child, port } = await serveChild(dataDir, 'kafka');
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const kafka = new Kafka({ clientId: 'crash', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    if (round === 0) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'kc', numPartitions: 1 }] });
      await admin.disconnect();
    }
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    let stop = false;
    let outstanding = 0;
    const producing = (async () => {
      while (!stop) {
        if (outstanding >= 16) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        const values = Array.from({ length: 25 }, () => `v${next++}`);
        for (const v of values) produced.add(v);
        outstanding++;
        producer
          .send({ topic: 'kc', acks: -1, messages: values.map((value) => ({ value })) })
          .then((meta) => {
            const base = Number(meta[0]!.baseOffset);
            values.forEach((v, i) => acked.set(v, base + i));
          })
          .catch(() => undefined)
          .finally(() => outstanding--);
      }
    })();
    await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 400)));
    child.kill('SIGKILL');
    stop = true;
    await exited;
    await producing;
    await producer.disconnect().catch(() => undefined);

    const stored = await readPartition(dataDir);
    for (const [v, offset] of acked) assert.equal(stored.get(offset), v, `acknowledged ${v} at offset ${offset} lost or moved in round ${round}`);
    for (const v of stored.values()) assert.ok(produced.has(v), `${v} was never produced`);
  }
  assert.ok(acked.size > 1000, `enough acknowledged records (${acked.size})`);
});
