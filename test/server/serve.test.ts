// `junction serve` as a real process: listener log lines, /api/health, clean shutdown, refusal of bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const mainJs = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

interface Started {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  httpPort: number;
}

function serve(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [mainJs, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  return new Promise((resolvePromise, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      lines.push(rec);
      if (rec['msg'] === 'broker started') {
        const http = lines.find((l) => l['msg'] === 'listening' && l['protocol'] === 'http');
        resolvePromise({ child, lines, httpPort: http ? Number(http['port']) : -1 });
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before start: ${stderr}`)));
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((r) => child.on('exit', (code) => r({ code, stderr })));
}

test('serve logs one line per listener, answers /api/health, and shuts down cleanly on SIGTERM', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'serve-')), 'data');
  const s = await serve(['--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', '0', '--kafka-port', 'off', '--amqp-port', 'off', '--mqtt-port', 'off', '--stomp-port', 'off']);
  assert.ok(s.httpPort > 0);
  const listening = s.lines.filter((l) => l['msg'] === 'listening');
  assert.deepEqual(listening.map((l) => [l['protocol'], l['address']]), [['http', '127.0.0.1']]);
  const res = await fetch(`http://127.0.0.1:${s.httpPort}/api/health`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body['status'], 'ok');
  assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/api/nope`)).status, 404);
  assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/api/health`, { method: 'POST' })).status, 405);
  assert.ok(existsSync(join(dataDir, 'junction.format')), 'data dir initialised');
  const exited = exitOf(s.child);
  s.child.kill('SIGTERM');
  const { code } = await exited;
  assert.equal(code, 0);
  assert.ok(s.lines.some((l) => l['msg'] === 'broker stopped'));
});

test('environment variables configure serve', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'serve-')), 'data');
  const s = await serve([], { JUNCTION_DATA_DIR: dataDir, JUNCTION_HOST: '127.0.0.1', JUNCTION_HTTP_PORT: '0', JUNCTION_KAFKA_PORT: '0', JUNCTION_AMQP_PORT: '0', JUNCTION_FSYNC: 'never' });
  const exited = exitOf(s.child);
  try {
    assert.deepEqual(s.lines.filter((l) => l['msg'] === 'listening').map((l) => l['protocol']), ['kafka', 'amqp', 'http']);
    assert.ok(s.lines.some((l) => l['msg'] === 'broker started' && l['fsync'] === 'never' && l['dataDir'] === dataDir));
  } finally {
    s.child.kill('SIGINT');
  }
  assert.equal((await exited).code, 0);
});

test('a bad option stops start-up with a message naming it', async () => {
  const child = spawn(process.execPath, [mainJs, 'serve', '--kafka-port', 'seventy'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stderr } = await exitOf(child);
  assert.equal(code, 2);
  assert.match(stderr, /--kafka-port/);
});

test('a data dir of an unknown format version is refused with a clear message', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'serve-'));
  writeFileSync(join(dataDir, 'junction.format'), JSON.stringify({ format: 99 }));
  const child = spawn(process.execPath, [mainJs, 'serve', '--data-dir', dataDir, '--http-port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stderr } = await exitOf(child);
  assert.equal(code, 1);
  assert.match(stderr, /format version 99/);
});
