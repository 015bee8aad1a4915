// `junction serve` as a child process for the chaos test: Kafka and AMQP on port 0, fsync=always.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const mainJs = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface BrokerProcess {
  child: ChildProcess;
  kafkaPort: number;
  amqpPort: number;
  /** Lines the broker logged at warn level or above (JSON), for the report. */
  problems: string[];
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

export function startBroker(dataDir: string): Promise<BrokerProcess> {
  const args = [mainJs, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--amqp-port', '0', '--kafka-port', '0', '--http-port', 'off', '--fsync', 'always', '--log-level', 'info'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const problems: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolvePromise, reject) => {
    let kafkaPort = 0;
    let amqpPort = 0;
    let started = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        problems.push(line);
        return;
      }
      if (typeof rec['level'] === 'number' && rec['level'] >= 40) problems.push(line);
      if (rec['msg'] === 'listening' && rec['protocol'] === 'kafka') kafkaPort = Number(rec['port']);
      if (rec['msg'] === 'listening' && rec['protocol'] === 'amqp') amqpPort = Number(rec['port']);
      if (rec['msg'] === 'broker started') {
        started = true;
        resolvePromise({
          child,
          kafkaPort,
          amqpPort,
          problems,
          exited,
          async kill() {
            child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    void exited.then((code) => {
      if (!started) reject(new Error(`junction serve exited ${code} before it started: ${stderr.slice(-2000)}`));
    });
  });
}
