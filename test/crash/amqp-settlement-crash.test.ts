// SIGKILL tests of what a consumer sees across a crash (`junction serve` as a real process, fsync=always):
// an ack the broker has answered past (a later synchronous method on the channel was answered) never comes
// back, and every message that reached a consumer before the kill comes back flagged redelivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { serveChild } from './serve-child.js';

async function start(dataDir: string) {
  const { child, port } = await serveChild(dataDir, 'amqp');
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  conn.on('error', () => undefined);
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  return { conn, kill };
}

/** Every message left in the queue: id -> redelivered (consumed with auto-ack). */
async function drain(conn: amqp.ChannelModel, q: string): Promise<Map<number, boolean>> {
  const ch = await conn.createChannel();
  const n = (await ch.assertQueue(q, { durable: true })).messageCount;
  const out = new Map<number, boolean>();
  await ch.consume(q, (m) => m && out.set(Number(m.content.toString()), m.fields.redelivered), { noAck: true });
  while (out.size < n) await new Promise((r) => setTimeout(r, 5));
  await ch.close();
  return out;
}

async function publish(conn: amqp.ChannelModel, q: string, from: number, n: number): Promise<void> {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(q, { durable: true });
  for (let i = from; i < from + n; i++) ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true });
  await ch.waitForConfirms();
  await ch.close();
}

test('SIGKILL right after the answer to a synchronous method: the acks before it never come back, 3 rounds', { timeout: 120_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'amqp-ackcrash-')), 'data');
  const acked = new Set<number>();
  const syncMethods: Array<(ch: amqp.Channel) => Promise<unknown>> = [(ch) => ch.prefetch(1000), (ch) => ch.checkQueue('ackq'), (ch) => ch.get('ackq')];
  let next = 0;
  let { conn, kill } = await start(dataDir);
  for (let round = 0; round < syncMethods.length; round++) {
    await publish(conn, 'ackq', next, 2000);
    next += 2000;
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.prefetch(1000);
    const received: amqp.Message[] = [];
    await ch.consume('ackq', (m) => m && received.push(m));
    while (received.length < 1000) await new Promise((r) => setTimeout(r, 5));
    // Ack them one by one, then a synchronous method; kill the broker the moment it answers.
    for (const m of received) {
      ch.ack(m);
      acked.add(Number(m.content.toString()));
    }
    await syncMethods[round]!(ch);
    await kill();
    ({ conn, kill } = await start(dataDir));
    const left = await drain(conn, 'ackq');
    const back = [...acked].filter((id) => left.has(id));
    assert.deepEqual(back, [], `round ${round}: ${back.length} acked messages came back`);
  }
  await conn.close();
  await kill();
});

test('SIGKILL while messages are being delivered: every message a consumer received comes back flagged redelivered, 2 rounds', { timeout: 120_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'amqp-redelcrash-')), 'data');
  let { conn, kill } = await start(dataDir);
  for (let round = 0; round < 2; round++) {
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue(`redel${round}`, { durable: true });
    const received = new Set<number>();
    let killing: Promise<void> | undefined;
    await ch.consume(`redel${round}`, (m) => {
      if (!m || killing) return;
      received.add(Number(m.content.toString()));
      if (received.size >= 2000) killing = kill();
    });
    // Fresh publishes while the consumer waits: deliveries go out from memory as fast as they can.
    for (let i = 0; !killing && i < 100_000; i += 500) {
      for (let k = i; k < i + 500; k++) ch.sendToQueue(`redel${round}`, Buffer.from(String(k)), { persistent: true });
      await ch.waitForConfirms().catch(() => undefined);
    }
    await killing;
    ({ conn, kill } = await start(dataDir));
    const left = await drain(conn, `redel${round}`);
    const unflagged = [...received].filter((id) => left.has(id) && !left.get(id));
    assert.equal(unflagged.length, 0, `round ${round}: ${unflagged.length} of ${received.size} received messages came back with redelivered=false`);
  }
  await conn.close();
  await kill();
});
