// What every AMQP connection of one listener shares: the broker, the settings, the open connections (for
// resource alarms and shutdown) and the direct reply-to registry.
import type { Broker } from '../../core/broker.js';
import type { AmqpConnection } from './connection.js';
import { DirectReplyTo } from './direct-reply-to.js';

export interface AmqpSettings {
  /** Proposed in connection.tune (RabbitMQ: 2047, 131072, 60). */
  channelMax: number;
  frameMax: number;
  heartbeatSec: number;
  /** Smallest frame-max a client may choose (README §3: 4096 keeps old clients working). */
  frameMaxMin: number;
  /** Largest message body (RabbitMQ 4: max_message_size 16 MiB); larger is 406. */
  messageBytesMax: number;
  /** The handshake must finish within this (README §2: 10 s). */
  handshakeTimeoutMs: number;
  /** After connection.close is sent, the socket closes when close-ok arrives or after this. */
  closeTimeoutMs: number;
  /** After close-ok (sent or received) the client closes the socket; it is destroyed if still open after this. */
  closeOkLingerMs: number;
  /** A consumer's deliveries pause while its socket holds more than this unsent. */
  writeBacklogBytesMax: number;
  /** Reading pauses while this many published bytes are queued for the pump or wait to be stored (bytes of incomplete contents count too). */
  unsettledPublishBytesMax: number;
  /** Reading pauses while this many commands (methods, complete publishes) wait for the pump; it resumes at half. */
  queuedCommandsMax: number;
  /** Body bytes of the publishes one transactional channel holds until tx.commit; more is 406. */
  txPublishBytesMax: number;
  /** Body bytes of incomplete contents (publishes whose body frames are still arriving) on all of a connection's channels; more is 530. */
  incompleteContentBytesMax: number;
  clusterName: string;
  version: string;
}

export const defaultAmqpSettings: AmqpSettings = {
  channelMax: 2047,
  frameMax: 131072,
  heartbeatSec: 60,
  frameMaxMin: 4096,
  messageBytesMax: 16 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 1_000,
  closeOkLingerMs: 10_000,
  writeBacklogBytesMax: 4 * 1024 * 1024,
  unsettledPublishBytesMax: 32 * 1024 * 1024,
  queuedCommandsMax: 4096,
  incompleteContentBytesMax: 64 * 1024 * 1024,
  txPublishBytesMax: 64 * 1024 * 1024,
  clusterName: 'junction',
  version: '0.1.0',
};

export interface AmqpContext {
  broker: Broker;
  settings: AmqpSettings;
  connections: Set<AmqpConnection>;
  replyTo: DirectReplyTo;
  /** The reason of the resource alarm in force, if any. */
  alarm: string | undefined;
}
