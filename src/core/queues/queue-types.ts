// The queue's types (queue.ts re-exports the public ones): arguments, consumers, deliveries, options.
import type { BrokerError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import type { PartitionLog } from '../../storage/log/types.js';
import type { SettlementLogApi } from '../../storage/queue-state/types.js';
import type { Message } from '../message.js';
import type { CreditGroup } from './credit-group.js';
import type { Queue } from './queue.js';

export type OverflowPolicy = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** Queue arguments, protocol-neutral (AMQP x-arguments map onto these). */
export interface QueueArguments {
  messageTtlMs?: number;
  expiresMs?: number;
  maxLength?: number;
  maxLengthBytes?: number;
  overflow?: OverflowPolicy;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  maxPriority?: number;
  singleActiveConsumer?: boolean;
  /**
   * Quorum-queue delivery limit: a message returned to the queue after more than this many deliveries is
   * dead-lettered (reason 'delivery_limit') or dropped instead. Undefined = no limit.
   */
  deliveryLimit?: number;
  /** Quorum-queue style: redeliveries carry header x-delivery-count (deliveries before this one). */
  deliveryCountHeader?: boolean;
}

export interface Delivery {
  /** Queue-local id, increasing; the handle for ack / nack / reject. */
  deliveryId: number;
  offset: number;
  message: Message;
  redelivered: boolean;
  deliveryCount: number;
}

export interface QueueConsumer {
  /** Deliveries for this consumer, in order; called with batches. */
  deliver(queue: Queue, consumerTag: string, deliveries: Delivery[]): void;
  /** The queue cancelled this consumer (deleted, or similar). */
  cancelled(queue: Queue, consumerTag: string, reason: string): void;
  /** false while the consumer cannot take more (its socket is backed up); resumeDelivery() when it can. */
  ready?(): boolean;
}

export interface ConsumerOptions {
  /** 0 = unlimited. */
  prefetchCount?: number;
  noAck?: boolean;
  exclusive?: boolean;
  priority?: number;
  /** A limit shared with other consumers (AMQP global QoS): each unsettled delivery takes one credit. */
  credit?: CreditGroup;
}

export interface DeadLetterSink {
  /** Routes dead-lettered messages (x-death already added); resolves once they are stored. */
  deadLetter(queue: Queue, messages: Message[], exchange: string, routingKey: string | undefined): Promise<void>;
}

export interface QueueOptions {
  vhost: string;
  name: string;
  log: PartitionLog;
  state: SettlementLogApi;
  durable?: boolean;
  autoDelete?: boolean;
  /** Connection id owning an exclusive queue. */
  exclusiveOwner?: string;
  arguments?: QueueArguments;
  clock?: Clock;
  deadLetterSink?: DeadLetterSink;
  /** Called when the queue should be deleted: auto-delete after its last consumer, or x-expires. */
  onUnused?: (queue: Queue, reason: 'auto-delete' | 'expired') => void;
}

export type PublishOutcome = { ok: true; offset: number } | { ok: false; error: BrokerError };

/** A consumer as the queue keeps it (internal to queue.ts). */
export interface ConsumerEntry {
  tag: string;
  consumer: QueueConsumer;
  prefetch: number;
  noAck: boolean;
  exclusive: boolean;
  priority: number;
  unacked: number;
  credit: CreditGroup | undefined;
  /** Removed (cancelled, channel closed, queue deleted): a batch read for it goes back to ready. */
  gone: boolean;
}

/** A delivery not settled yet (internal to queue.ts). */
export interface InFlight {
  offset: number;
  sizeBytes: number;
  priority: number;
  expiresAt: number;
  deliveryCount: number;
  consumerTag: string | undefined;
  /** The shared credit this delivery holds until settled. */
  credit: CreditGroup | undefined;
}
