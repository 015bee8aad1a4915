// A channel's unacked deliveries by delivery tag, and their settlement (basic.ack / nack / reject / recover).
// Acks the broker answers past must survive a crash: the queues settled on since the last answer are
// remembered, and the channel waits for settlementsWritten() before answering its next synchronous method.
import type { Queue } from '../../core/queues/queue.js';
import { preconditionFailed } from './errors.js';
import type { StreamSubscription } from './stream-consumer.js';

/** Where a delivery tag points. */
export interface Unacked {
  queue: Queue | undefined;
  stream: StreamSubscription | undefined;
  deliveryId: number;
  consumerTag: string | undefined;
}

export class UnackedDeliveries extends Map<number, Unacked> {
  /** Queues acked / nacked on since the last settlementsWritten(). */
  private readonly settledOn = new Set<Queue>();

  /** Some ack or nack is not known to be written yet. */
  get settling(): boolean {
    return this.settledOn.size > 0;
  }

  /** ack / nack / reject by delivery tag; multiple = every unacked tag up to it (0 = all). Unknown tag: 406. */
  async settle(kind: 'ack' | 'nack', tag: number, multiple: boolean, requeue: boolean): Promise<void> {
    const tags: number[] = [];
    if (multiple) {
      for (const t of this.keys()) {
        if (tag !== 0 && t > tag) break;
        tags.push(t);
      }
      if (tag !== 0 && tags.length === 0 && !this.has(tag)) throw preconditionFailed(`unknown delivery tag ${tag}`);
    } else {
      if (!this.has(tag)) throw preconditionFailed(`unknown delivery tag ${tag}`);
      tags.push(tag);
    }
    // Group by queue, keeping order.
    const perQueue = new Map<Queue, number[]>();
    for (const t of tags) {
      const u = this.get(t)!;
      this.delete(t);
      if (u.stream) u.stream.settled();
      else if (u.queue) {
        let ids = perQueue.get(u.queue);
        if (!ids) perQueue.set(u.queue, (ids = []));
        ids.push(u.deliveryId);
      }
    }
    for (const [q, ids] of perQueue) {
      if (q.closed) continue;
      this.settledOn.add(q);
      if (kind === 'ack') q.ack(ids);
      else await q.nack(ids, requeue);
    }
  }

  /** Resolves once every ack / nack so far is written (fsync'd per policy). */
  async settlementsWritten(): Promise<void> {
    if (this.settledOn.size === 0) return;
    const qs = [...this.settledOn];
    this.settledOn.clear();
    await Promise.all(qs.map((q) => q.settlementsWritten()));
  }

  /** basic.recover requeue=true, or the channel closed: every unacked delivery goes back, flagged redelivered. */
  async requeueAll(): Promise<void> {
    const perQueue = new Map<Queue, number[]>();
    for (const [t, u] of this) {
      if (u.stream) {
        u.stream.settled();
        this.delete(t);
        continue;
      }
      if (!u.queue) continue;
      this.delete(t);
      let ids = perQueue.get(u.queue);
      if (!ids) perQueue.set(u.queue, (ids = []));
      ids.push(u.deliveryId);
    }
    for (const [q, ids] of perQueue) if (!q.closed) await q.nack(ids, true);
  }
}
