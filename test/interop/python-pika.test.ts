// Interop: Debian's python3-pika and amqp-tools (rabbitmq-c) against a real broker. .ci/run installs them;
// the suite fails (does not skip) when CI=true and they are missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAmqp } from '../amqp/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, '..', '..', '..', 'test', 'interop', 'python_pika.py');
const havePika = spawnSync('/usr/bin/python3', ['-c', 'import pika'], { stdio: 'ignore' }).status === 0;
const haveTools = spawnSync('amqp-publish', ['--help'], { stdio: 'ignore' }).status !== null && spawnSync('which', ['amqp-consume']).status === 0;
const required = process.env['CI'] === 'true';

function run(cmd: string, args: string[], input?: string, timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

test('pika: 100,000 messages published and consumed, properties, topic routing, get, errors, tx', { timeout: 120_000, skip: !havePika && !required && 'python3-pika is not installed' }, async () => {
  const server = await startAmqp();
  try {
    const r = await run('/usr/bin/python3', [script, String(server.port('amqp')), '100000'], undefined, 110_000);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.ok((out['caps'] as string[]).includes('publisher_confirms'));
    assert.equal(out['declared_count'], 100000);
    assert.equal(out['received'], 100000);
    assert.deepEqual(out['first'], { headers: { n: 1, s: 'v' }, correlation_id: 'c1', delivery_mode: 2 });
    assert.equal(out['get'], 'routed');
    assert.equal(out['get_empty'], true);
    assert.deepEqual(out['passive_error'], [404, "NOT_FOUND - no queue 'no-such-queue' in vhost '/'"]);
    assert.equal(out['tx'], 'tx2');
  } finally {
    await server.close();
  }
});

test('amqp-tools: amqp-declare-queue, amqp-publish, amqp-consume, amqp-get', { timeout: 60_000, skip: !haveTools && !required && 'amqp-tools is not installed' }, async () => {
  const server = await startAmqp();
  const url = `amqp://guest:guest@127.0.0.1:${server.port('amqp')}`;
  try {
    const d = await run('amqp-declare-queue', ['--url', url, '-q', 'tools-q', '-d']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout.trim(), 'tools-q');
    for (let i = 0; i < 5; i++) {
      const p = await run('amqp-publish', ['--url', url, '-r', 'tools-q', '-p', '-C', 'text/plain', '-b', `hello ${i}`]);
      assert.equal(p.code, 0, p.stderr);
    }
    const g = await run('amqp-get', ['--url', url, '-q', 'tools-q']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(g.stdout, 'hello 0');
    const c = await run('amqp-consume', ['--url', url, '-q', 'tools-q', '-c', '4', 'cat']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, 'hello 1hello 2hello 3hello 4');
    const empty = await run('amqp-get', ['--url', url, '-q', 'tools-q']);
    assert.notEqual(empty.code, 0, 'amqp-get on an empty queue exits non-zero');
  } finally {
    await server.close();
  }
});
