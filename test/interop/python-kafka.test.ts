// Interop with Debian's python3-kafka (kafka-python 2.0.2) and python3-confluent-kafka (librdkafka):
// produce 100,000 messages and consume them with a consumer group. .ci/run installs both; without them
// the tests are skipped with a note.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

const PY = '/usr/bin/python3';
const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/interop/python_kafka.py');
const has = (mod: string) => spawnSync(PY, ['-c', `import ${mod}`]).status === 0;

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((r) => {
    const p = spawn(PY, [script, ...args]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => r({ code, out, err }));
  });
}

for (const [client, mod] of [['kafka-python', 'kafka'], ['confluent', 'confluent_kafka']] as const) {
  test(`${client}: produce and consume 100,000 messages with a group`, { skip: has(mod) ? false : `${PY} has no ${mod}`, timeout: 180_000 }, async () => {
    configureLogger('silent');
    const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'pyk-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
    const r = await run([client, `127.0.0.1:${server.port('kafka')}`, `py-${client}`, '100000']);
    await server.close();
    assert.equal(r.code, 0, r.err.slice(-2000));
    const res = JSON.parse(r.out.trim().split('\n').at(-1)!) as { consumed: number; distinct: number; all: boolean };
    assert.equal(res.distinct, 100000);
    assert.equal(res.all, true);
  });
}
