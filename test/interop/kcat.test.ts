// Interop with librdkafka through Debian's kcat: metadata listing, produce and consume 100,000 messages,
// compression. .ci/run installs kcat; without it these tests are skipped with a note.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

const hasKcat = spawnSync('kcat', ['-V']).status === 0;

function run(args: string[], input?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
    p.stdin.end(input ?? '');
  });
}

test('kcat: -L, produce and consume 100,000 messages, gzip, snappy-free path', { skip: hasKcat ? false : 'kcat not installed', timeout: 120_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kcat-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  const b = `127.0.0.1:${server.port('kafka')}`;
  const N = 100_000;
  const lines = Array.from({ length: N }, (_, i) => `message-${i}`).join('\n') + '\n';
  const produced = await run(['-b', b, '-P', '-t', 'kc', '-X', 'linger.ms=5'], lines);
  assert.equal(produced.code, 0, produced.err);
  const meta = await run(['-b', b, '-L', '-t', 'kc']);
  assert.match(meta.out, /topic "kc" with 1 partitions/);
  const consumed = await run(['-b', b, '-C', '-t', 'kc', '-o', 'beginning', '-e', '-q']);
  assert.equal(consumed.code, 0, consumed.err);
  const got = consumed.out.trim().split('\n');
  assert.equal(got.length, N);
  assert.equal(got[0], 'message-0');
  assert.equal(got[N - 1], `message-${N - 1}`);
  const gz = await run(['-b', b, '-P', '-t', 'kgz', '-z', 'gzip'], 'a\nb\nc\n');
  assert.equal(gz.code, 0, gz.err);
  const gzOut = await run(['-b', b, '-C', '-t', 'kgz', '-o', 'beginning', '-e', '-q']);
  assert.deepEqual(gzOut.out.trim().split('\n'), ['a', 'b', 'c']);
  // Every codec kcat can write is stored as sent, served back, and decodable by the broker for other protocols.
  for (const codec of ['snappy', 'lz4', 'zstd']) {
    const t = `k-${codec}`;
    const p = await run(['-b', b, '-P', '-t', t, '-z', codec], 'x1\nx2\nx3\n');
    assert.equal(p.code, 0, p.err);
    const c = await run(['-b', b, '-C', '-t', t, '-o', 'beginning', '-e', '-q']);
    assert.deepEqual(c.out.trim().split('\n'), ['x1', 'x2', 'x3'], codec);
    const decoded = await server.broker.getStream('/', t).readMessages(0, 0, 10);
    assert.deepEqual(decoded.map((m) => m.message.value!.toString()), ['x1', 'x2', 'x3'], `${codec} decoded by the broker`);
  }
  await server.close();
});

test('kcat: an idempotent producer pipelining many small produce requests writes every message once, in order', { skip: hasKcat ? false : 'kcat not installed', timeout: 120_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kcat-idem-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'always' });
  const b = `127.0.0.1:${server.port('kafka')}`;
  const N = 50_000;
  const lines = Array.from({ length: N }, (_, i) => `idem-${i}`).join('\n') + '\n';
  // Batches of 50 messages and no linger: librdkafka keeps up to 5 produce requests in flight per connection.
  const produced = await run(['-b', b, '-P', '-t', 'kidem', '-X', 'enable.idempotence=true', '-X', 'batch.num.messages=50', '-X', 'linger.ms=0'], lines);
  assert.equal(produced.code, 0, produced.err);
  const consumed = await run(['-b', b, '-C', '-t', 'kidem', '-o', 'beginning', '-e', '-q']);
  assert.equal(consumed.code, 0, consumed.err);
  const got = consumed.out.trim().split('\n');
  assert.equal(got.length, N);
  for (let i = 0; i < N; i += 997) assert.equal(got[i], `idem-${i}`);
  assert.equal(got[N - 1], `idem-${N - 1}`);
  await server.close();
});
