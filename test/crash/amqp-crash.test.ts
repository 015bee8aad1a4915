// Crash test for AMQP (issue: AMQP): `junction serve` runs as a real process with fsync=always; an amqplib
// publisher sends persistent messages with confirms to a durable queue, and a consumer acks some of them;
// the broker is SIGKILLed mid-stream, 3 times. After each restart every confirmed message that was not
// acked is in the queue, and nothing appears that was never published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveChild } from './serve-child.js';
import amqp from 'amqplib';

test('SIGKILL while publishing with confirms: every confirmed, unacked message survives, 3 rounds', { timeout: 120_000 }, async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'amqp-crash-')), 'data');
  const confirmed = new Set<number>();
  const acked = new Set<number>();
  const published = new Set<number>();
  let next = 0;
  for (let round = 0; round < 3; round++) {
    const { child, port } = await serveChild(dataDir, 'amqp');
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    conn.on('error', () => undefined);
    // What survived the last kill: everything confirmed and not acked must be here.
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('crash-q', { durable: true });
    const present = new Set<number>();
    for (let m = await ch.get('crash-q'); m; m = await ch.get('crash-q')) present.add(Number(m.content.toString()));
    for (const id of present) assert.ok(published.has(id), `message ${id} was never published`);
    for (const id of confirmed) if (!acked.has(id)) assert.ok(present.has(id), `confirmed message ${id} lost in round ${round}`);
    await ch.recover();
    // Consume and ack half of what is there; publish more; kill mid-stream.
    let toAck = Math.floor(present.size / 2);
    await ch.prefetch(50);
    await ch.consume('crash-q', (m) => {
      if (!m || toAck <= 0) return;
      toAck--;
      ch.ack(m);
      acked.add(Number(m.content.toString()));
    });
    let stop = false;
    const publishing = (async () => {
      while (!stop) {
        for (let i = 0; i < 50; i++) {
          const id = next++;
          published.add(id);
          ch.sendToQueue('crash-q', Buffer.from(String(id)), { persistent: true }, (err) => {
            if (!err) confirmed.add(id);
          });
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 400)));
    child.kill('SIGKILL');
    stop = true;
    await exited;
    await publishing;
  }
  assert.ok(confirmed.size > 1000, `enough confirmed messages (${confirmed.size})`);
});
