// Direct reply-to (README §11): a requester consumes from the pseudo-queue `amq.rabbitmq.reply-to` (no-ack);
// its requests carry reply-to `amq.rabbitmq.reply-to.<token>`; a reply published to the default exchange
// with that routing key goes straight to that consumer, through no queue.
import { randomBytes } from 'node:crypto';
import type { Message } from '../../core/message.js';

export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';
export const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to.';

export interface ReplyTarget {
  /** Delivers a reply; false when the consumer is gone. */
  deliverReply(consumerTag: string, exchange: string, routingKey: string, message: Message): boolean;
}

export class DirectReplyTo {
  private readonly targets = new Map<string, { target: ReplyTarget; consumerTag: string }>();

  register(target: ReplyTarget, consumerTag: string): string {
    const token = randomBytes(18).toString('base64url');
    this.targets.set(token, { target, consumerTag });
    return `${REPLY_TO_PREFIX}${token}`;
  }

  unregister(address: string): void {
    this.targets.delete(address.slice(REPLY_TO_PREFIX.length));
  }

  has(address: string): boolean {
    return this.targets.has(address.slice(REPLY_TO_PREFIX.length));
  }

  /** Delivers to the consumer behind `address`; false if there is none. */
  deliver(address: string, exchange: string, message: Message): boolean {
    const t = this.targets.get(address.slice(REPLY_TO_PREFIX.length));
    return t !== undefined && t.target.deliverReply(t.consumerTag, exchange, address, message);
  }
}
