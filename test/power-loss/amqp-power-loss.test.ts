// Power loss under AMQP publishers and consumers (fsync=always), on the fault-injecting MemoryFileSystem:
// amqplib publishes persistent messages with confirms to a durable queue (and to a stream) while a consumer
// acks; at a random moment the power goes; a broker reopened on what the disk kept must hold every confirmed
// message that was not acked, once, in publish order, and must not bring back messages whose acks the
// broker had long since written (acked, answered past, then the broker idle).
// A failing round prints its seed: POWER_LOSS_SEED=<seed> replays the same random choices (timing aside).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { MemoryFileSystem } from '../../src/storage/fs/memory-fs.js';
import { prng, randomMoment, startMemoryBroker, TAILS, type MemoryBroker } from './memory-broker.js';

const QUEUE = 'power-q';
const STREAM = 'power-s';

const id = (m: amqp.Message): number => Number(m.content.toString());

async function connect(b: MemoryBroker): Promise<amqp.ChannelModel> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${b.amqpPort}`);
  conn.on('error', () => undefined);
  return conn;
}

/** Closes a connection whose broker lost power (its socket is gone; close() could wait for ever). */
function drop(conn: amqp.ChannelModel): void {
  void conn.close().catch(() => undefined);
}

/** Publishes ids from `next()` with confirms until `up()` is false; `confirmed` gets each id the broker confirmed in time. */
async function publishLoop(ch: amqp.ConfirmChannel, target: string, next: () => number, up: () => boolean, confirmed: Set<number>, rnd: () => number): Promise<void> {
  let outstanding = 0;
  try {
    while (up()) {
      const n = 1 + Math.floor(rnd() * 40);
      for (let i = 0; i < n; i++) {
        const m = next();
        outstanding++;
        ch.sendToQueue(target, Buffer.from(String(m)), { persistent: true }, (err) => {
          outstanding--;
          if (!err && up()) confirmed.add(m);
        });
      }
      if (outstanding > 400) await ch.waitForConfirms();
      else await new Promise((r) => setTimeout(r, 1));
    }
  } catch {
    // the power went
  }
}

test('AMQP confirms: every confirmed, unacked persistent message survives power loss, once, in order; settled acks stay settled (6 rounds)', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env['POWER_LOSS_SEED'] ?? Date.now() % 1_000_000);
  const rnd = prng(seed);
  let mem = new MemoryFileSystem();
  const published = new Set<number>();
  const confirmed = new Set<number>();
  /** Acked, then the broker answered a later method on that channel and went idle: must never come back. */
  const settled = new Set<number>();
  /** Acked while publishing went on: may come back after a power loss (at least once), at most once. */
  const acked = new Set<number>();
  let nextId = 0;
  let b: MemoryBroker | undefined;
  const ROUNDS = 6;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      const where = `seed ${seed} round ${round}`;
      b = await startMemoryBroker(mem, rnd);
      const conn = await connect(b);
      const pub = await conn.createConfirmChannel();
      const sub = await conn.createChannel();
      pub.on('error', () => undefined);
      sub.on('error', () => undefined);
      const ok = await sub.assertQueue(QUEUE, { durable: true });

      // Read what survived: everything, in publish order, once.
      const present: amqp.Message[] = [];
      let up = true;
      let reading = ok.messageCount > 0;
      const allRead = new Promise<void>((resolve) => {
        if (!reading) resolve();
        void sub.consume(QUEUE, (m) => {
          if (!m) return;
          if (reading) {
            present.push(m);
            if (present.length === ok.messageCount) {
              reading = false;
              resolve();
            }
            return;
          }
          // New publishes: ack about half of them.
          if (up && rnd() < 0.5) {
            sub.ack(m);
            acked.add(id(m));
          }
        });
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([allRead, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${where}: declare-ok said ${ok.messageCount} messages, ${present.length} delivered in 20 s`)), 20_000)))]);
      clearTimeout(timer);
      const ids = present.map(id);
      for (let i = 0; i < ids.length; i++) {
        assert.ok(published.has(ids[i]!), `${where}: message ${ids[i]} was never published`);
        if (i > 0) assert.ok(ids[i]! > ids[i - 1]!, `${where}: message ${ids[i]} after ${ids[i - 1]}: ${ids[i] === ids[i - 1] ? 'duplicated' : 'out of publish order'}`);
        assert.ok(!settled.has(ids[i]!), `${where}: message ${ids[i]} came back although its ack was written long before the power loss`);
      }
      const have = new Set(ids);
      for (const c of confirmed) if (!acked.has(c) && !settled.has(c)) assert.ok(have.has(c), `${where}: confirmed message ${c} lost`);
      if (round === ROUNDS) {
        await conn.close();
        break;
      }

      // Settle some for good: ack, have the broker answer a later method on the channel, let it go idle.
      const toSettle = present.filter(() => rnd() < 0.5);
      for (const m of toSettle) sub.ack(m);
      await sub.checkQueue(QUEUE);
      await b.quiet();
      for (const m of toSettle) settled.add(id(m));

      // Publish and ack (the rest of `present` stays unacked) until the power goes.
      const loop = publishLoop(pub, QUEUE, () => (published.add(nextId), nextId++), () => up, confirmed, rnd);
      await randomMoment(() => confirmed.size, rnd, 30, 180);
      up = false;
      mem = b.powerLoss(TAILS[Math.floor(rnd() * TAILS.length)], rnd);
      b = undefined;
      await loop;
      drop(conn);
    }
  } finally {
    await b?.close();
  }
  t.diagnostic(`confirmed ${confirmed.size}, settled ${settled.size}, acked while publishing ${acked.size}`);
  assert.ok(confirmed.size >= ROUNDS * 30, `enough confirmed messages to mean something (${confirmed.size})`);
  assert.ok(settled.size >= 50, `enough settled messages to mean something (${settled.size})`);
});

/**
 * Rounds of publishing to a stream with confirms (and `watch`: a stream consumer, whose every delivery seen
 * must survive too); after each power loss every confirmed message is in the stream once, in order.
 */
async function streamRounds(rounds: number, watch: boolean): Promise<{ confirmed: number; seen: number }> {
  const seed = Number(process.env['POWER_LOSS_SEED'] ?? Date.now() % 1_000_000);
  const rnd = prng(seed);
  let mem = new MemoryFileSystem();
  const published = new Set<number>();
  const confirmed = new Set<number>();
  const seen = new Map<number, number>(); // stream offset -> id
  const confirmedIn = new Map<number, number>(); // id -> round
  const tails: string[] = [];
  let nextId = 0;
  let b: MemoryBroker | undefined;
  try {
    for (let round = 0; round <= rounds; round++) {
      const where = `seed ${seed} round ${round}`;
      b = await startMemoryBroker(mem, rnd);
      if (round > 0) {
        const st = b.broker.getStream('/', STREAM);
        const stored = new Map<number, number>();
        const order: number[] = [];
        for (let o = st.earliestOffset(0); o < st.latestOffset(0); ) {
          const got = await st.readMessages(0, o, 1000);
          if (got.length === 0) break;
          for (const g of got) {
            const v = Number(g.message.value!.toString());
            stored.set(g.offset, v);
            order.push(v);
          }
          o = got[got.length - 1]!.offset + 1;
        }
        for (let i = 0; i < order.length; i++) {
          assert.ok(published.has(order[i]!), `${where}: ${order[i]} was never published`);
          if (i > 0) assert.ok(order[i]! > order[i - 1]!, `${where}: ${order[i]} after ${order[i - 1]} in the stream`);
        }
        const have = new Set(order);
        for (const c of confirmed) {
          if (!have.has(c)) {
            const near = order.filter((v) => Math.abs(v - c) < 5);
            assert.fail(`${where}: confirmed message ${c} lost from the stream (confirmed in round ${confirmedIn.get(c)}; the stream holds ${order.length} records, offsets ${st.earliestOffset(0)}..${st.latestOffset(0)}, near it ${near.join(',')}; power losses so far: ${tails.join(', ')})`);
          }
        }
        for (const [o, v] of seen) assert.equal(stored.get(o), v, `${where}: message ${v} that a stream consumer received at offset ${o} did not survive`);
      }
      if (round === rounds) break;
      const conn = await connect(b);
      const pub = await conn.createConfirmChannel();
      pub.on('error', () => undefined);
      await pub.assertQueue(STREAM, { durable: true, arguments: { 'x-queue-type': 'stream' } });
      let up = true;
      if (watch) {
        const sub = await conn.createChannel();
        sub.on('error', () => undefined);
        await sub.prefetch(500);
        await sub.consume(
          STREAM,
          (m) => {
            if (!m) return;
            if (up) seen.set(Number(m.properties.headers!['x-stream-offset']), id(m));
            sub.ack(m);
          },
          { arguments: { 'x-stream-offset': 'first' } },
        );
      }
      const loop = publishLoop(pub, STREAM, () => (published.add(nextId), nextId++), () => up, confirmed, rnd);
      await randomMoment(() => confirmed.size, rnd);
      up = false;
      const tail = TAILS[Math.floor(rnd() * TAILS.length)];
      tails.push(tail);
      mem = b.powerLoss(tail, rnd);
      for (const c of confirmed) if (!confirmedIn.has(c)) confirmedIn.set(c, round);
      b = undefined;
      await loop;
      drop(conn);
    }
  } finally {
    await b?.close();
  }
  return { confirmed: confirmed.size, seen: seen.size };
}

test('AMQP confirms to a stream: every confirmed message survives power loss, once, in order (5 rounds)', { timeout: 120_000 }, async (t) => {
  const r = await streamRounds(5, false);
  t.diagnostic(`confirmed ${r.confirmed}`);
  assert.ok(r.confirmed >= 300, `enough confirmed messages to mean something (${r.confirmed})`);
});

test('AMQP stream consumer: a message it received survives power loss (consumers see only durable records)', { timeout: 120_000 }, async (t) => {
  const r = await streamRounds(5, true);
  t.diagnostic(`confirmed ${r.confirmed}, received by the consumer ${r.seen}`);
  assert.ok(r.seen >= 100, `the consumer received enough messages to mean something (${r.seen})`);
});
