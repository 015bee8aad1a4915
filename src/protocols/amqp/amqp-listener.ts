// The AMQP 0-9-1 listener: accepts connections and hands each to an AmqpConnection. Resource alarms block
// publishers on every connection (connection.blocked); close() sends connection.close 320 to each.
import { createServer, type Server } from 'node:net';
import type { Broker } from '../../core/broker.js';
import { AmqpConnection } from './connection.js';
import { defaultAmqpSettings, type AmqpContext, type AmqpSettings } from './context.js';
import { DirectReplyTo } from './direct-reply-to.js';

export interface AmqpListener {
  server: Server;
  context: AmqpContext;
  /** Raises (reason) or clears (undefined) a resource alarm: publishers are blocked while it holds. */
  setAlarm(reason: string | undefined): void;
  close(): Promise<void>;
}

export function createAmqpListener(broker: Broker, settings: Partial<AmqpSettings> = {}): AmqpListener {
  const context: AmqpContext = { broker, settings: { ...defaultAmqpSettings, ...settings }, connections: new Set(), replyTo: new DirectReplyTo(), alarm: undefined };
  const all = new Set<AmqpConnection>();
  const server = createServer((socket) => {
    const c = new AmqpConnection(socket, context);
    all.add(c);
    socket.on('close', () => all.delete(c));
  });
  return {
    server,
    context,
    setAlarm(reason) {
      context.alarm = reason;
      for (const c of context.connections) c.setAlarm(reason);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of all) c.close();
        // Give close frames a moment, then drop what is left.
        setTimeout(() => {
          for (const c of all) c.destroy();
        }, 200).unref();
      }),
  };
}
