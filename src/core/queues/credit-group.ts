// A prefetch limit shared by several consumers, possibly on several queues: RabbitMQ's `basic.qos` with
// global=true, one limit for all of a channel's consumers. Each delivery to a consumer of the group takes
// one credit until it is settled (acked, rejected, requeued); when credit frees up after the group was
// full, every queue it is attached to is asked to resume delivering.

/** What a queue offers the group: a way to be woken when credit frees up. */
export interface CreditWaiter {
  resumeDelivery(): void;
}

export class CreditGroup {
  /** 0 = unlimited. */
  private limitCount: number;
  private used = 0;
  private readonly waiters = new Set<CreditWaiter>();

  constructor(limit = 0) {
    this.limitCount = limit;
  }

  get limit(): number {
    return this.limitCount;
  }

  /** Changes the limit (basic.qos again); a raised limit lets waiting queues deliver. */
  set limit(n: number) {
    const wasFull = !this.hasRoom;
    this.limitCount = n;
    if (wasFull && this.hasRoom) this.wake();
  }

  get unacked(): number {
    return this.used;
  }

  get hasRoom(): boolean {
    return this.limitCount === 0 || this.used < this.limitCount;
  }

  take(): void {
    this.used++;
  }

  release(): void {
    const wasFull = !this.hasRoom;
    this.used--;
    if (wasFull && this.hasRoom) this.wake();
  }

  attach(q: CreditWaiter): void {
    this.waiters.add(q);
  }

  detach(q: CreditWaiter): void {
    this.waiters.delete(q);
  }

  private wake(): void {
    for (const q of this.waiters) q.resumeDelivery();
  }
}
