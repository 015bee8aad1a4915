// A reconnect storm does not stall the broker: AMQP password checks run PBKDF2 off the event loop and are
// cached (src/core/auth/password-check.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import amqp from 'amqplib';
import { passwordCheckStats } from '../../src/core/auth/password-check.js';
import { connect, startAmqp } from './helpers.js';

test('200 concurrent AMQP logins check passwords off the event loop (async PBKDF2, cached), while another connection keeps being served', { timeout: 60_000 }, async () => {
  const server = await startAmqp();
  const users = server.broker.users;
  // 20 users x 10 connections each; a costly hash (as a production deployment might choose).
  const iterations = 20_000;
  for (let i = 0; i < 20; i++) {
    await users.put(`u${i}`, `p${i}`, { iterations });
    await users.setPermission(`u${i}`, '/', { configure: '.*', write: '.*', read: '.*' });
  }
  const pinger = await connect(server);
  const ch = await pinger.createChannel();
  await ch.assertQueue('ping');
  let pongs = 0;
  let stop = false;
  const latencies: number[] = [];
  const ping = (async () => {
    while (!stop) {
      const t = performance.now();
      await ch.checkQueue('ping');
      latencies.push(performance.now() - t);
      pongs++;
    }
  })();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const before = { ...passwordCheckStats };
  const pongsBefore = pongs;
  const t0 = performance.now();
  const port = server.port('amqp')!;
  const conns = await Promise.all(Array.from({ length: 200 }, (_, k) => amqp.connect(`amqp://u${k % 20}:p${k % 20}@127.0.0.1:${port}`)));
  const stormMs = performance.now() - t0;
  const pongsDuring = pongs - pongsBefore;
  delay.disable();
  stop = true;
  await ping;
  await Promise.all(conns.map((c) => c.close()));
  const derivations = passwordCheckStats.derivations - before.derivations;
  latencies.sort((a, b) => a - b);
  console.log(
    `# 200 logins (20 users, ${iterations} PBKDF2 iterations) in ${stormMs.toFixed(0)} ms: ${derivations} derivations, ${passwordCheckStats.cacheHits - before.cacheHits} cache hits, ` +
      `${passwordCheckStats.shared - before.shared} shared; ${pongsDuring} pongs meanwhile, ping p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(2)} ms, ` +
      `max ${latencies[latencies.length - 1]?.toFixed(2)} ms; event loop delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`,
  );
  assert.equal(conns.length, 200);
  assert.equal(derivations, 20, `one threadpool derivation per credential`);
  assert.ok(pongsDuring > 0, 'the other connection was served during the storm');
  await pinger.close();
  await server.close();
});
