// The Kafka listener: accepts connections and hands each to a KafkaConnection.
import { createServer, type Server, type Socket } from 'node:net';
import type { Broker } from '../../core/broker.js';
import { KafkaConnection } from './connection.js';
import { defaultKafkaSettings, type KafkaSettings } from './handlers/context.js';

export interface KafkaListener {
  server: Server;
  /** Shared with every connection: the server sets advertisedPort after binding port 0. */
  settings: KafkaSettings;
  close(): Promise<void>;
}

export function createKafkaListener(broker: Broker, settings: Partial<KafkaSettings> & { advertisedHost: string; advertisedPort: number }): KafkaListener {
  const full: KafkaSettings = { ...defaultKafkaSettings, ...settings };
  const sockets = new Set<Socket>();
  const conns = new Set<KafkaConnection>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const c = new KafkaConnection(socket, broker, full);
    conns.add(c);
    socket.on('close', () => {
      sockets.delete(socket);
      conns.delete(c);
    });
  });
  return {
    server,
    settings: full,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of conns) c.close();
      }),
  };
}

