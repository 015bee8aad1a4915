// A broker on the fault-injecting MemoryFileSystem with real Kafka and AMQP listeners on port 0: for tests
// that hold an fdatasync open or cut the power (fs.crash()) under real clients.
import type { AddressInfo, Server } from 'node:net';
import { Broker } from '../src/core/broker.js';
import { createKafkaListener } from '../src/protocols/kafka/kafka-listener.js';
import { createAmqpListener } from '../src/protocols/amqp/amqp-listener.js';
import { MemoryFileSystem } from '../src/storage/fs/memory-fs.js';
import { configureLogger } from '../src/lib/logger.js';
import type { FsyncPolicy } from '../src/storage/log/types.js';


export interface MemoryBroker {
  broker: Broker;
  fs: MemoryFileSystem;
  kafkaPort: number;
  amqpPort: number;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export const MEMORY_DATA_DIR = '/data';

/** Starts a broker over `fs` (a new MemoryFileSystem by default, or the state a crash() left). */
export async function startMemoryBroker(opts: { fs?: MemoryFileSystem; fsync?: FsyncPolicy } = {}): Promise<MemoryBroker> {
  configureLogger('silent');
  const fs = opts.fs ?? new MemoryFileSystem();
  const broker = await Broker.open({ dataDir: MEMORY_DATA_DIR, fs, fsync: opts.fsync ?? 'always', groupInitialRebalanceDelayMs: 0 });
  const kafka = createKafkaListener(broker, { advertisedHost: '127.0.0.1', advertisedPort: 0 });
  const kafkaPort = await listen(kafka.server);
  kafka.settings.advertisedPort = kafkaPort;
  const amqp = createAmqpListener(broker);
  const amqpPort = await listen(amqp.server);
  return {
    broker,
    fs,
    kafkaPort,
    amqpPort,
    async close() {
      await kafka.close();
      await amqp.close();
      await broker.close();
    },
  };
}
