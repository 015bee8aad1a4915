// `junction serve` as a child process for crash tests: fsync=always, one protocol listening on port 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const mainJs = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** Starts the broker with `protocol` on port 0 (the others off); resolves once it has started. */
export function serveChild(dataDir: string, protocol: 'amqp' | 'kafka'): Promise<{ child: ChildProcess; port: number }> {
  const ports = { amqp: protocol === 'amqp' ? '0' : 'off', kafka: protocol === 'kafka' ? '0' : 'off' };
  const args = [mainJs, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--amqp-port', ports.amqp, '--kafka-port', ports.kafka, '--http-port', 'off', '--fsync', 'always', '--log-level', 'info'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    let port = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec['msg'] === 'listening' && rec['protocol'] === protocol) port = Number(rec['port']);
      if (rec['msg'] === 'broker started') resolvePromise({ child, port });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}
