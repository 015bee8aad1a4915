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

/** Polls until cond() holds; rejects after ms. */
export async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
