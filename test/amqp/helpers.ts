// Shared set-up for the AMQP suites: a real broker in-process on port 0 with a temporary data dir.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';

export function tempDataDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'amqp-')), 'data');
}

export async function startAmqp(opts: { dataDir?: string; kafka?: boolean; fsync?: 'always' | 'never' } = {}): Promise<RunningServer> {
  configureLogger('silent');
  return startServer({
    ...defaultConfig,
    dataDir: opts.dataDir ?? tempDataDir(),
    host: '127.0.0.1',
    kafkaPort: opts.kafka ? 0 : 'off',
    httpPort: 'off',
    amqpPort: 0,
    mqttPort: 'off',
    stompPort: 'off',
    fsync: opts.fsync ?? 'never',
  });
}

export function url(server: RunningServer, extra = ''): string {
  return `amqp://guest:guest@127.0.0.1:${server.port('amqp')}${extra}`;
}

export async function connect(server: RunningServer, extra = ''): Promise<amqp.ChannelModel> {
  return amqp.connect(url(server, extra));
}

/** Resolves with the first value the predicate accepts from an event stream, or rejects after ms. */
export function waitFor<T>(register: (push: (v: T) => void) => void, done: (all: T[]) => boolean, ms = 5000): Promise<T[]> {
  const all: T[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out with ${all.length} item(s)`)), ms);
    register((v) => {
      all.push(v);
      if (done(all)) {
        clearTimeout(t);
        resolve(all);
      }
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
