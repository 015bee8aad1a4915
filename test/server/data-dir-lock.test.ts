// One broker per data dir (issue 9, item 1): a second `junction serve` on a dir in use is refused before it
// touches anything, whatever its ports; the kernel releases the lock when the holder dies, even by SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import kafkajs from 'kafkajs';
import amqp from 'amqplib';

const { Kafka, logLevel } = kafkajs;
const mainJs = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

interface Serve {
  child: ChildProcess;
  /** Resolves with the listener ports once started; rejects if the process exits first. */
  started: Promise<{ kafka: number; amqp: number }>;
  exited: Promise<{ code: number | null; stderr: string }>;
}

function serve(dataDir: string, ports: { kafka: number; amqp: number } = { kafka: 0, amqp: 0 }): Serve {
  const args = [mainJs, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--kafka-port', String(ports.kafka), '--amqp-port', String(ports.amqp), '--http-port', 'off', '--fsync', 'always'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stderr: string }>((r) => child.on('exit', (code) => r({ code, stderr })));
  const started = new Promise<{ kafka: number; amqp: number }>((resolvePromise, reject) => {
    const got = { kafka: 0, amqp: 0 };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec['msg'] === 'listening') got[rec['protocol'] as 'kafka' | 'amqp'] = Number(rec['port']);
      if (rec['msg'] === 'broker started') resolvePromise(got);
    });
    void exited.then(({ code }) => reject(new Error(`serve exited ${code} before start: ${stderr}`)));
  });
  started.catch(() => undefined);
  return { child, started, exited };
}

/** Every file under dir (relative paths), for "changes nothing". */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

test('a second serve on a data dir in use is refused with the holder pid and changes nothing; after SIGKILL of the holder a new serve starts', { timeout: 60_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'lock-')), 'data');
  const first = serve(dataDir);
  const ports = await first.started;
  // Data of every kind: Kafka records, persistent AMQP messages, a non-durable queue (removed at the next
  // start of a broker that owns the dir).
  const kafka = new Kafka({ clientId: 't', brokers: [`127.0.0.1:${ports.kafka}`], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 4; i++) await producer.send({ topic: 'locked', acks: -1, messages: Array.from({ length: 50 }, (_, k) => ({ value: `r${i * 50 + k}` })) });
  await producer.disconnect();
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${ports.amqp}`);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('durable-q', { durable: true });
  await ch.assertQueue('transient-q', { durable: false });
  for (let i = 0; i < 20; i++) {
    ch.sendToQueue('durable-q', Buffer.from(`m${i}`), { persistent: true });
    ch.sendToQueue('transient-q', Buffer.from(`t${i}`));
  }
  await ch.waitForConfirms();
  const before = tree(dataDir);

  // Other ports, then the same ports: both refused before touching the dir.
  for (const p of [{ kafka: 0, amqp: 0 }, ports]) {
    const second = serve(dataDir, p);
    const outcome = await Promise.race([second.exited, second.started.then(() => 'started' as const)]);
    if (outcome === 'started') {
      second.child.kill('SIGKILL');
      assert.fail('a second broker started on a data dir in use');
    }
    assert.notEqual(outcome.code, 0);
    assert.ok(outcome.stderr.includes(`data dir ${dataDir} is in use by process ${first.child.pid}`), outcome.stderr);
  }
  assert.deepEqual(tree(dataDir), before, 'the refused starts changed nothing in the data dir');
  assert.equal((await ch.checkQueue('transient-q')).messageCount, 20, "the running broker's non-durable queue is intact");
  assert.equal((await ch.checkQueue('durable-q')).messageCount, 20);
  await conn.close().catch(() => undefined);

  // SIGKILL: the kernel releases the lock; the next broker starts and finds everything confirmed.
  first.child.kill('SIGKILL');
  await first.exited;
  const third = serve(dataDir);
  const ports3 = await third.started;
  try {
    const admin = new Kafka({ clientId: 't', brokers: [`127.0.0.1:${ports3.kafka}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('locked');
    assert.equal(offsets.reduce((a, o) => a + Number(o.high) - Number(o.low), 0), 200, 'every acknowledged Kafka record');
    await admin.disconnect();
    const c3 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${ports3.amqp}`);
    const ch3 = await c3.createChannel();
    assert.equal((await ch3.checkQueue('durable-q')).messageCount, 20, 'every confirmed persistent AMQP message');
    await c3.close();
  } finally {
    third.child.kill('SIGTERM');
    await third.exited;
  }
});
