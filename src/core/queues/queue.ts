// Queue: RabbitMQ classic-queue semantics on a log (design.md §3). Records live in a PartitionLog;
// the ReadyIndex holds what is ready; in-flight deliveries are tracked per consumer; settlement (ack,
// dead-letter, expiry, drop) is persisted in a SettlementLog. Bodies are read from the log at delivery
// time, a batch of consecutive records at once.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { childLogger } from '../../lib/logger.js';
import type { PartitionLog } from '../../storage/log/types.js';
import type { RecordInput } from '../../storage/log/record-batch.js';
import type { SettlementLogApi } from '../../storage/queue-state/types.js';
import type { Message } from '../message.js';
import { addXDeath, decodeMessage, encodeMessage, withHeader, type DeathReason } from '../message-codec.js';
import { newReadyEntry, ReadyIndex, type ReadyEntry } from './ready-index.js';
import { BodyCache } from './body-cache.js';
import { recoverReady } from './queue-recovery.js';
import { DeliveryReservation } from './delivery-reservation.js';

import type { ConsumerEntry, ConsumerOptions, Delivery, InFlight, PublishOutcome, QueueArguments, QueueConsumer, QueueOptions } from './queue-types.js';
export type { ConsumerOptions, DeadLetterSink, Delivery, OverflowPolicy, PublishOutcome, QueueArguments, QueueConsumer, QueueOptions } from './queue-types.js';

/** Bytes of decoded bodies kept in memory per queue (read-ahead and fresh publishes). */
const BODY_CACHE_BYTES_MAX = 64 * 1024 * 1024;
/** Records read per log read when delivering. */
const READ_BATCH_BYTES = 256 * 1024;
/**
 * Credit flow: a queue with this many ready messages while a consumer could take them is congested, and
 * publishers are asked to wait until it is back under half of it.
 */
const CONGESTION_READY = 10_000;
/** Transient publishes up to this many body bytes may be delivered before their append completes. */
const EARLY_APPEND_BYTES_MAX = 1024 * 1024;
/** Deliveries per drain turn before yielding to the event loop. */
const DRAIN_TURN_MAX = 2048;

/** RabbitMQ quorum queues: x-delivery-count = deliveries before this one (a long). */
function withDeliveryCount(m: Message, previous: number): Message {
  return withHeader(m, 'x-delivery-count', { type: 'int64', value: BigInt(previous) });
}

export class Queue {
  readonly vhost: string;
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: string | undefined;
  readonly arguments: QueueArguments;
  private readonly log: PartitionLog;
  private readonly state: SettlementLogApi;
  private readonly clock: Clock;
  private readonly ready: ReadyIndex;
  private readonly inflight = new Map<number, InFlight>();
  private readonly consumers: ConsumerEntry[] = [];
  private rr = 0;
  private nextDeliveryId = 1;
  private drainScheduled = false;
  private draining = false;
  private isClosed = false;
  private decongestWaiters: Array<() => void> = [];
  /** Returned deliveries past the delivery limit, waiting to be dead-lettered. */
  private overLimit: ReadyEntry[] = [];
  /** Records handed to the log and not yet appended (counted as ready for credit flow). */
  private appending = 0;
  /** Accepted records not yet in the ready set (being appended): they count against the length limits. */
  private unreadyCount = 0;
  private unreadyBytes = 0;
  /** Entries taken by the batch being read from the log: still ready until handed to their consumers. */
  private readingCount = 0;
  private readingBytes = 0;
  /** The offset the next append will start at (valid while appends are in flight; else the log's). */
  private nextOffset = 0;
  /** The last append handed to the log. */
  private appendTail: Promise<unknown> = Promise.resolve();
  /** Appends in flight too large for early delivery (they may be refused on their own). */
  private largeAppending = 0;
  /** An append failed: predicted offsets are not trusted until no append is in flight. */
  private predictionBroken = false;
  private hadConsumer = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private unusedTimer: NodeJS.Timeout | undefined;
  private settlesSinceTrim = 0;
  /** Decoded bodies of ready records: read ahead from the log, or kept from the publish when consumers wait. */
  private readonly cache = new BodyCache(BODY_CACHE_BYTES_MAX);
  /** The drain's batch, reused: consumer and ready entry per delivery. */
  private readonly batchConsumers: ConsumerEntry[] = [];
  private readonly batchEntries: ReadyEntry[] = [];
  private readonly batchBodies: Array<Message | undefined> = [];
  /** Delivered-mark reservation (item: redelivered flags after a crash); set by open(). */
  private reservation!: DeliveryReservation;
  private readonly scratch: ReadyEntry = newReadyEntry();
  private readonly logger = childLogger('queue');

  private constructor(private readonly opts: QueueOptions) {
    this.vhost = opts.vhost;
    this.name = opts.name;
    this.durable = opts.durable ?? true;
    this.autoDelete = opts.autoDelete ?? false;
    this.exclusiveOwner = opts.exclusiveOwner;
    this.arguments = opts.arguments ?? {};
    this.log = opts.log;
    this.state = opts.state;
    this.clock = opts.clock ?? systemClock;
    this.ready = new ReadyIndex(this.arguments.maxPriority ?? 0);
  }

  /** Opens a queue over its log and settlement state; every unsettled record becomes ready again. */
  static async open(opts: QueueOptions): Promise<Queue> {
    const q = new Queue(opts);
    await q.recoverFromLog();
    q.touch();
    return q;
  }

  private async recoverFromLog(): Promise<void> {
    // Offsets at or past the log's end did not exist before: they cannot have been delivered.
    this.reservation = new DeliveryReservation(this.state, Math.min(this.state.deliveredMark, this.log.nextOffset), this.logger, this.durable);
    await recoverReady(this.log, this.state, this.ready, {
      vhost: this.vhost,
      name: this.name,
      dropTransient: this.durable && this.arguments.deliveryCountHeader !== true,
      expiryAt: (ttl, at) => this.expiryAt(ttl, at),
      logger: this.logger,
    });
  }

  // ---- counts --------------------------------------------------------------------------------------------

  /** Closed or deleted: no more settlement or delivery. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Ready messages, including those of a batch being read for delivery (not yet handed to a consumer). */
  get messageCount(): number {
    return this.ready.length + this.readingCount;
  }

  get messageBytes(): number {
    return this.ready.sizeBytes + this.readingBytes;
  }

  get unackedCount(): number {
    return this.inflight.size;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  // ---- publish -------------------------------------------------------------------------------------------

  private expiryOf(m: Message, enqueuedAt: number): number {
    return this.expiryAt(m.properties.expirationMs, enqueuedAt);
  }

  private expiryAt(p: number | undefined, enqueuedAt: number): number {
    const q = this.arguments.messageTtlMs;
    const ttl = q === undefined ? p : p === undefined ? q : Math.min(p, q);
    return ttl === undefined ? 0 : enqueuedAt + ttl;
  }

  /**
   * Appends messages as one batch. Per message: ok with its offset, or an Overflow error when the queue is
   * full under reject-publish. Resolves when the append is durable per the log's fsync policy (transient
   * messages pass durable=false).
   */
  async publish(messages: readonly Message[], opts: { durable?: boolean } = {}): Promise<PublishOutcome[]> {
    this.checkOpen();
    const outcomes: PublishOutcome[] = new Array(messages.length);
    const accepted: Message[] = [];
    const overflow = this.arguments.overflow ?? 'drop-head';
    // The limits count every message accepted and not yet delivered: ready, in a batch being read for
    // delivery, and still being appended by earlier publishes (pipelined publishes must not overshoot).
    let count = this.messageCount + this.unreadyCount;
    let bytes = this.messageBytes + this.unreadyBytes;
    const bytesBefore = bytes;
    const now = this.clock.nowMs();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
      if (overflow !== 'drop-head' && this.full(count, bytes, size)) {
        outcomes[i] = { ok: false, error: new BrokerError(ErrorCode.Overflow, `queue '${this.name}' in vhost '${this.vhost}' is full (x-overflow ${overflow})`) };
        continue;
      }
      count++;
      bytes += size;
      outcomes[i] = { ok: true, offset: -1 };
      accepted.push(m);
    }
    const publishBytes = bytes - bytesBefore;
    // Counted from now until they are ready (or refused), before anything is awaited.
    this.unreadyCount += accepted.length;
    this.unreadyBytes += publishBytes;
    let unready = accepted.length > 0;
    const nowReady = (): void => {
      if (!unready) return;
      unready = false;
      this.unreadyCount -= accepted.length;
      this.unreadyBytes -= publishBytes;
    };
    const limited = this.arguments.maxLength !== undefined || this.arguments.maxLengthBytes !== undefined;
    let dropping: Promise<void> | undefined;
    try {
      if (overflow === 'reject-publish-dlx' && accepted.length < messages.length) await this.deadLetterRejectedPublishes(messages, outcomes);
      if (accepted.length === 0) return outcomes;
      if (overflow === 'drop-head' && limited) {
        // Room for what is being appended is made now, from the head, as a queue receiving it would.
        dropping = this.dropHeadOverflow();
        dropping.catch(() => undefined);
      }
      const stamped = accepted.map((m) => (m.timestamp ? m : { ...m, timestamp: now }));
      const records = stamped.map(encodeMessage);
      // The queue is its log's only writer: offsets follow from the appends handed over so far.
      if (this.appending === 0) {
        this.nextOffset = this.log.nextOffset;
        this.predictionBroken = false;
      }
      const base = this.nextOffset;
      this.nextOffset += records.length;
      this.appending += records.length;
      // Only a large append can be refused on its own (over the log's append limit); a small one fails only
      // when the log itself does (and every later append with it). Early delivery trusts predicted offsets,
      // so it stops while a large append is in flight and after any failure until the appends drain.
      const large = publishBytes > EARLY_APPEND_BYTES_MAX;
      if (large) this.largeAppending++;
      const appended = this.log.appendRecords(records, { durable: opts.durable ?? true });
      this.appendTail = appended;
      // A transient queue (not durable, no length limit) with consumers waiting makes fresh messages ready at
      // once, from memory, as RabbitMQ does with transient messages: delivery does not wait for the write.
      const early =
        !this.durable &&
        this.consumers.length > 0 &&
        this.largeAppending === 0 &&
        !this.predictionBroken &&
        this.arguments.maxLength === undefined &&
        this.arguments.maxLengthBytes === undefined &&
        this.cache.hasRoomFor(publishBytes);
      if (early) {
        nowReady();
        this.makeReady(base, accepted, stamped, records, now, true);
        this.scheduleDrain();
      }
      let result;
      try {
        result = await appended;
      } catch (err) {
        this.predictionBroken = true;
        throw err;
      } finally {
        this.appending -= records.length;
        if (large) this.largeAppending--;
      }
      // A mismatch means an earlier append failed after this one's offsets were predicted: the log's are used.
      if (result.baseOffset !== base && early) throw new BrokerError(ErrorCode.Internal, `queue '${this.name}': log appended at ${result.baseOffset}, expected ${base}`);
      let offset = result.baseOffset;
      for (let i = 0; i < outcomes.length; i++) {
        const o = outcomes[i]!;
        if (o.ok) (o as { offset: number }).offset = offset++;
      }
      if (!early) {
        nowReady();
        this.makeReady(result.baseOffset, accepted, stamped, records, now, this.consumers.length > 0);
      }
    } finally {
      nowReady();
    }
    if (dropping) await dropping;
    if (overflow === 'drop-head' && limited) await this.dropHeadOverflow();
    this.scheduleDrain();
    return outcomes;
  }

  /** Adds appended (or being appended) messages to the ready index; keeps their bodies when consumers wait. */
  private makeReady(base: number, accepted: readonly Message[], stamped: readonly Message[], records: readonly RecordInput[], now: number, keep: boolean): void {
    for (let k = 0; k < records.length; k++) {
      const m = accepted[k]!;
      const r = records[k]!;
      const offset = base + k;
      this.ready.push(offset, (r.value?.length ?? 0) + (r.key?.length ?? 0), m.properties.priority ?? 0, this.expiryOf(m, now), 0);
      // Consumers waiting: keep the body so its delivery needs no read back from the log.
      if (keep && this.cache.hasRoomFor(m.value?.length ?? 0)) this.cache.set(offset, stamped[k]!);
    }
  }

  /** x-overflow=reject-publish-dlx: messages refused for a full queue are dead-lettered (reason maxlen). */
  private async deadLetterRejectedPublishes(messages: readonly Message[], outcomes: PublishOutcome[]): Promise<void> {
    const dlx = this.arguments.deadLetterExchange;
    const sink = this.opts.deadLetterSink;
    if (dlx === undefined || !sink) return;
    const now = this.clock.nowMs();
    const dead = messages
      .filter((_, i) => !outcomes[i]!.ok)
      .map((m) => addXDeath(m, { queue: this.name, reason: 'maxlen', exchange: m.exchange ?? '', routingKeys: [m.routingKey ?? ''], timeMs: now, originalExpiration: m.properties.expirationMs }));
    await sink.deadLetter(this, dead, dlx, this.arguments.deadLetterRoutingKey);
  }

  private full(count: number, bytes: number, incoming: number): boolean {
    const { maxLength, maxLengthBytes } = this.arguments;
    return (maxLength !== undefined && count + 1 > maxLength) || (maxLengthBytes !== undefined && bytes + incoming > maxLengthBytes);
  }

  private async dropHeadOverflow(): Promise<void> {
    const { maxLength, maxLengthBytes } = this.arguments;
    if (maxLength === undefined && maxLengthBytes === undefined) return;
    const dropped: ReadyEntry[] = [];
    // Messages being appended count too (only ready ones can be dropped); a batch being read for delivery
    // does not: it is on its way out, and dropping for it would lose messages that fit.
    const extraCount = this.unreadyCount;
    const extraBytes = this.unreadyBytes;
    while (
      this.ready.length > 0 &&
      ((maxLength !== undefined && this.ready.length + extraCount > maxLength) || (maxLengthBytes !== undefined && this.ready.sizeBytes + extraBytes > maxLengthBytes))
    ) {
      const e = newReadyEntry();
      this.ready.shiftOldest(e);
      dropped.push(e);
    }
    if (dropped.length > 0) await this.deadLetterEntries(dropped, 'maxlen');
  }

  // ---- consumers -----------------------------------------------------------------------------------------

  addConsumer(tag: string, consumer: QueueConsumer, opts: ConsumerOptions = {}): void {
    this.checkOpen();
    if (this.consumers.some((c) => c.tag === tag)) throw new BrokerError(ErrorCode.NotAllowed, `consumer tag '${tag}' is already in use on queue '${this.name}'`);
    if (this.consumers.some((c) => c.exclusive) || (opts.exclusive && this.consumers.length > 0)) {
      throw new BrokerError(ErrorCode.ResourceLocked, `queue '${this.name}' in vhost '${this.vhost}' in exclusive use`);
    }
    const entry: ConsumerEntry = { tag, consumer, prefetch: opts.prefetchCount ?? 0, noAck: opts.noAck ?? false, exclusive: opts.exclusive ?? false, priority: opts.priority ?? 0, unacked: 0, credit: opts.credit, gone: false };
    opts.credit?.attach(this);
    this.consumers.push(entry);
    // Higher priority first; stable among equals (insertion order).
    this.consumers.sort((a, b) => b.priority - a.priority);
    this.hadConsumer = true;
    this.touch();
    this.scheduleDrain();
  }

  private find(tag: string): number {
    return this.consumers.findIndex((c) => c.tag === tag);
  }

  /**
   * Removes a consumer. Its unacked deliveries return to the ready set (flagged redelivered), unless
   * requeueUnacked is false (AMQP basic.cancel: they stay unacked and can still be acked or nacked).
   */
  removeConsumer(tag: string, opts: { requeueUnacked?: boolean } = {}): boolean {
    const i = this.find(tag);
    if (i < 0) return false;
    const [removed] = this.consumers.splice(i, 1);
    removed!.gone = true;
    if (removed!.credit && !this.consumers.some((c) => c.credit === removed!.credit)) removed!.credit.detach(this);
    for (const [id, f] of this.inflight) {
      if (f.consumerTag === tag) {
        if (opts.requeueUnacked === false) {
          f.consumerTag = undefined;
          continue;
        }
        this.inflight.delete(id);
        f.credit?.release();
        this.returnToReady(f);
      }
    }
    if (this.consumers.length === 0 && this.hadConsumer && this.autoDelete) this.opts.onUnused?.(this, 'auto-delete');
    this.touch();
    this.scheduleDrain();
    return true;
  }

  /** The single active consumer's tag when x-single-active-consumer is set. */
  get activeConsumerTag(): string | undefined {
    return this.arguments.singleActiveConsumer && this.consumers.length > 0 ? this.firstRegistered().tag : undefined;
  }

  private firstRegistered(): ConsumerEntry {
    return this.consumers[0]!;
  }

  /**
   * Congested: many ready messages while some consumer has capacity, i.e. delivery is behind publishing.
   * Protocols then stop reading their publishers until whenDecongested() resolves (RabbitMQ's credit flow).
   */
  get congested(): boolean {
    if (this.ready.length + this.appending < CONGESTION_READY) return false;
    return this.hasConsumerCapacity();
  }

  /**
   * Some consumer has prefetch room. A consumer whose socket is backed up (ready() false) still counts: it is
   * behind because it cannot read fast enough, which is exactly when publishers must slow down, so that the
   * CPU goes to delivering rather than to accepting more. Only prefetch-limited consumers (waiting for their
   * own acks) do not make a queue congested: a backlog behind them is a queue doing its job.
   */
  private hasConsumerCapacity(): boolean {
    for (const c of this.consumers) if (this.hasRoom(c)) return true;
    return false;
  }

  /** The consumer's own prefetch, and its shared credit if any, allow another delivery. */
  private hasRoom(c: ConsumerEntry): boolean {
    return (c.prefetch === 0 || c.unacked < c.prefetch) && (c.credit === undefined || c.credit.hasRoom);
  }

  /** Resolves once the queue is no longer congested (drained to half the mark, lost its consumers, or closed). */
  whenDecongested(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    return new Promise((resolve) => this.decongestWaiters.push(resolve));
  }

  private checkDecongested(): void {
    if (this.decongestWaiters.length === 0) return;
    const stillBusy = !this.isClosed && this.ready.length + this.appending >= CONGESTION_READY / 2 && this.hasConsumerCapacity();
    if (stillBusy) return;
    const w = this.decongestWaiters;
    this.decongestWaiters = [];
    for (const f of w) f();
  }

  /** A consumer that was not ready() can take deliveries again. */
  resumeDelivery(): void {
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.isClosed) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      void this.drain().catch((err: Error) => this.logger.error({ queue: this.name, err: err.message }, 'delivery failed'));
    });
  }

  private pickConsumer(): ConsumerEntry | undefined {
    const n = this.consumers.length;
    if (n === 0) return undefined;
    if (this.arguments.singleActiveConsumer) {
      const c = this.consumers[0]!;
      return this.hasRoom(c) && c.consumer.ready?.() !== false ? c : undefined;
    }
    // Round robin within the highest priority that has capacity.
    let i = 0;
    while (i < n) {
      const prio = this.consumers[i]!.priority;
      let j = i;
      while (j < n && this.consumers[j]!.priority === prio) j++;
      const width = j - i;
      for (let k = 0; k < width; k++) {
        const c = this.consumers[i + ((this.rr + k) % width)]!;
        if (this.hasRoom(c) && c.consumer.ready?.() !== false) {
          this.rr = (this.rr + k + 1) % width;
          return c;
        }
      }
      i = j;
    }
    return undefined;
  }

  private async drain(): Promise<void> {
    if (this.draining || this.isClosed) return;
    this.draining = true;
    try {
      const cs = this.batchConsumers;
      const es = this.batchEntries;
      for (;;) {
        await this.expireHead();
        let n = 0;
        let maxOffset = -1;
        let bytes = 0;
        while (n < DRAIN_TURN_MAX && this.ready.length > 0) {
          const c = this.pickConsumer();
          if (!c) break;
          if (n === es.length) es.push(newReadyEntry());
          const e = es[n]!;
          this.ready.shift(e);
          if (e.offset > maxOffset) maxOffset = e.offset;
          bytes += e.sizeBytes;
          c.unacked++;
          c.credit?.take();
          cs[n++] = c;
        }
        if (n === 0) break;
        // Until handed to their consumers they still count as ready (queue.declare-ok, length limits).
        this.readingCount += n;
        this.readingBytes += bytes;
        try {
          await this.deliverBatch(n, maxOffset);
        } finally {
          this.readingCount -= n;
          this.readingBytes -= bytes;
        }
        this.checkDecongested();
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.draining = false;
      this.checkDecongested();
    }
  }

  private async bodyOf(offset: number): Promise<Message> {
    let m = this.cache.take(offset);
    if (m) return m;
    // Made ready before its append completed (and no longer cached): wait for the appends handed over so far.
    if (offset >= this.log.nextOffset) await this.appendTail.catch(() => undefined);
    if (!this.cache.hasRoomFor(READ_BATCH_BYTES)) this.cache.clear();
    const records = await this.log.readRecords(offset, 10_000, READ_BATCH_BYTES);
    for (const rec of records) if (!this.state.isSettled(rec.offset) && !this.cache.has(rec.offset)) this.cache.set(rec.offset, decodeMessage(rec));
    m = this.cache.take(offset);
    if (!m) throw new BrokerError(ErrorCode.Internal, `queue '${this.name}': record ${offset} is missing from its log`);
    return m;
  }

  /**
   * Delivers the batch the drain took: first every body is read (the batch's consumers may go away
   * meanwhile) and "may have been delivered" made durable past its offsets, then, with no await, each entry
   * goes to its consumer, or back to ready (at its original position) if that consumer is gone.
   */
  private async deliverBatch(n: number, maxOffset: number): Promise<void> {
    const cs = this.batchConsumers;
    const es = this.batchEntries;
    const bodies = this.batchBodies;
    let got = 0;
    try {
      for (; got < n; got++) {
        // Most bodies come from the read-ahead cache: taken without an await per message.
        bodies[got] = this.cache.take(es[got]!.offset) ?? (await this.bodyOf(es[got]!.offset));
      }
      for (let w = this.reservation.before(maxOffset); w; w = this.reservation.before(maxOffset)) await w;
    } catch (err) {
      this.giveBack(n, got);
      throw err;
    }
    const per = new Map<ConsumerEntry, Delivery[]>();
    const closed = this.isClosed;
    const recovered = this.reservation.recovered;
    let lastC: ConsumerEntry | undefined;
    let list: Delivery[] | undefined;
    for (let i = 0; i < n; i++) {
      const c = cs[i]!;
      const e = es[i]!;
      const body = bodies[i]!;
      if (c.gone || closed) {
        // Its consumer went away (cancel, channel or connection closed) while the batch was read.
        c.credit?.release();
        if (closed) continue;
        this.ready.requeue(e.offset, e.sizeBytes, e.priority, e.expiresAt, e.deliveryCount);
        this.cache.set(e.offset, body);
        continue;
      }
      const id = this.nextDeliveryId++;
      const msg = e.deliveryCount > 0 && this.arguments.deliveryCountHeader ? withDeliveryCount(body, e.deliveryCount) : body;
      const d: Delivery = { deliveryId: id, offset: e.offset, message: msg, redelivered: e.deliveryCount > 0 || e.offset < recovered, deliveryCount: e.deliveryCount + 1 };
      if (c.noAck) {
        c.unacked--;
        c.credit?.release();
        this.settleOffset(e.offset);
      } else {
        this.state.markDelivered(e.offset);
        this.inflight.set(id, { offset: e.offset, sizeBytes: e.sizeBytes, priority: e.priority, expiresAt: e.expiresAt, deliveryCount: e.deliveryCount + 1, consumerTag: c.tag, credit: c.credit });
      }
      if (c !== lastC) {
        lastC = c;
        list = per.get(c);
        if (!list) per.set(c, (list = []));
      }
      list!.push(d);
    }
    cs.fill(undefined as unknown as ConsumerEntry, 0, n);
    bodies.fill(undefined, 0, n);
    for (const [c, list] of per) c.consumer.deliver(this, c.tag, list);
  }

  /**
   * A read (or the delivered-mark write) failed while delivering the batch: every entry hands back its
   * consumer and shared credit and returns to the ready set (bodies already read back to the cache); one
   * whose record never reached the log (an early delivery whose append failed) is dropped. The drain
   * retries in a second.
   */
  private giveBack(n: number, withBodies: number): void {
    const cs = this.batchConsumers;
    const es = this.batchEntries;
    const bodies = this.batchBodies;
    for (let j = 0; j < n; j++) {
      const c = cs[j]!;
      const e = es[j]!;
      c.unacked--;
      c.credit?.release();
      if (this.isClosed) continue;
      if (e.offset >= this.log.nextOffset && this.appending === 0) {
        this.logger.warn({ queue: this.name, offset: e.offset }, 'message lost: its append failed');
        continue;
      }
      this.ready.requeue(e.offset, e.sizeBytes, e.priority, e.expiresAt, e.deliveryCount);
      if (j < withBodies) this.cache.set(e.offset, bodies[j]!);
    }
    cs.fill(undefined as unknown as ConsumerEntry, 0, n);
    bodies.fill(undefined, 0, n);
    if (!this.isClosed) setTimeout(() => this.scheduleDrain(), 1000).unref();
  }

  /**
   * basic.get: the next ready message, or undefined. `wanted` is asked once the body is read: false (the
   * channel closed meanwhile) puts the message back where it was, undelivered.
   */
  async get(noAck: boolean, wanted?: () => boolean): Promise<Delivery | undefined> {
    this.checkOpen();
    this.touch();
    await this.expireHead();
    const e = newReadyEntry();
    if (!this.ready.shift(e)) return undefined;
    this.readingCount++;
    this.readingBytes += e.sizeBytes;
    let msg: Message;
    try {
      msg = await this.bodyOf(e.offset);
      for (let w = this.reservation.before(e.offset); w; w = this.reservation.before(e.offset)) await w;
    } catch (err) {
      if (!this.isClosed && !(e.offset >= this.log.nextOffset && this.appending === 0)) this.ready.requeue(e.offset, e.sizeBytes, e.priority, e.expiresAt, e.deliveryCount);
      throw err;
    } finally {
      this.readingCount--;
      this.readingBytes -= e.sizeBytes;
    }
    if (this.isClosed) return undefined;
    if (wanted && !wanted()) {
      this.ready.requeue(e.offset, e.sizeBytes, e.priority, e.expiresAt, e.deliveryCount);
      this.cache.set(e.offset, msg);
      this.scheduleDrain();
      return undefined;
    }
    if (e.deliveryCount > 0 && this.arguments.deliveryCountHeader) msg = withDeliveryCount(msg, e.deliveryCount);
    const id = this.nextDeliveryId++;
    if (noAck) this.settleOffset(e.offset);
    else {
      this.state.markDelivered(e.offset);
      this.inflight.set(id, { offset: e.offset, sizeBytes: e.sizeBytes, priority: e.priority, expiresAt: e.expiresAt, deliveryCount: e.deliveryCount + 1, consumerTag: undefined, credit: undefined });
    }
    return { deliveryId: id, offset: e.offset, message: msg, redelivered: e.deliveryCount > 0 || e.offset < this.reservation.recovered, deliveryCount: e.deliveryCount + 1 };
  }

  // ---- settlement ----------------------------------------------------------------------------------------

  private take(id: number): InFlight {
    const f = this.inflight.get(id);
    if (!f) throw new BrokerError(ErrorCode.PreconditionFailed, `unknown delivery tag ${id}`);
    this.inflight.delete(id);
    if (f.consumerTag !== undefined) {
      const i = this.find(f.consumerTag);
      if (i >= 0) this.consumers[i]!.unacked--;
    }
    f.credit?.release();
    return f;
  }

  /** Acknowledges deliveries. Every id must be in flight (checked before anything changes). */
  ack(ids: readonly number[]): void {
    for (const id of ids) if (!this.inflight.has(id)) throw new BrokerError(ErrorCode.PreconditionFailed, `unknown delivery tag ${id}`);
    for (const id of ids) this.settleOffset(this.take(id).offset);
    this.scheduleDrain();
  }

  /** In-flight delivery ids up to and including `upTo` (AMQP multiple=true), optionally of one consumer. */
  inFlightUpTo(upTo: number, consumerTag?: string): number[] {
    const out: number[] = [];
    for (const [id, f] of this.inflight) if (id <= upTo && (consumerTag === undefined || f.consumerTag === consumerTag)) out.push(id);
    return out;
  }

  /** nack / reject: requeue to the original position, or dead-letter (reason 'rejected') and settle. */
  async nack(ids: readonly number[], requeue: boolean): Promise<void> {
    for (const id of ids) if (!this.inflight.has(id)) throw new BrokerError(ErrorCode.PreconditionFailed, `unknown delivery tag ${id}`);
    const dead: ReadyEntry[] = [];
    for (const id of ids) {
      const f = this.take(id);
      if (requeue) this.returnToReady(f);
      else dead.push({ offset: f.offset, sizeBytes: f.sizeBytes, expiresAt: f.expiresAt, deliveryCount: f.deliveryCount, priority: f.priority });
    }
    if (dead.length > 0) await this.deadLetterEntries(dead, 'rejected');
    this.scheduleDrain();
  }

  /** basic.recover: requeues every unacked delivery of a consumer. */
  recover(consumerTag: string): void {
    for (const [id, f] of this.inflight) {
      if (f.consumerTag !== consumerTag) continue;
      this.take(id);
      this.returnToReady(f);
    }
    this.scheduleDrain();
  }

  /**
   * A delivery comes back unsettled (requeue, recover, its consumer or channel gone): to the ready set at
   * its original position, or, past the delivery limit, dead-lettered with reason 'delivery_limit'.
   */
  private returnToReady(f: InFlight): void {
    const limit = this.arguments.deliveryLimit;
    if (limit === undefined || f.deliveryCount <= limit) {
      this.ready.requeue(f.offset, f.sizeBytes, f.priority, f.expiresAt, f.deliveryCount);
      return;
    }
    const first = this.overLimit.length === 0;
    this.overLimit.push({ offset: f.offset, sizeBytes: f.sizeBytes, expiresAt: f.expiresAt, deliveryCount: f.deliveryCount, priority: f.priority });
    if (first) {
      queueMicrotask(() => {
        const entries = this.overLimit;
        this.overLimit = [];
        this.deadLetterEntries(entries, 'delivery_limit').catch((err: unknown) => {
          this.logger.error({ queue: this.name, err: (err as Error).message }, 'dead-lettering over the delivery limit failed; the messages stay ready');
          if (this.isClosed) return;
          for (const e of entries) if (!this.state.isSettled(e.offset)) this.ready.requeue(e.offset, e.sizeBytes, e.priority, e.expiresAt, e.deliveryCount);
          this.scheduleDrain();
        });
      });
    }
  }

  private settleOffset(offset: number): void {
    this.state.settle(offset);
    if (++this.settlesSinceTrim >= 10_000) {
      this.settlesSinceTrim = 0;
      this.trimLog().catch((err: Error) => this.logger.error({ queue: this.name, vhost: this.vhost, err: err.message }, 'log trim failed; segments kept until the next trim'));
    }
  }

  /** Resolves once every settlement made so far is written (and fsync'd when the policy asks). */
  settlementsWritten(): Promise<void> {
    return this.isClosed ? Promise.resolve() : this.state.flush();
  }

  /** Frees whole segments below the settlement low watermark. */
  async trimLog(): Promise<number> {
    await this.state.flush();
    return this.log.deleteBefore(this.state.lowWatermark);
  }

  // ---- expiry and dead-lettering -------------------------------------------------------------------------

  /** Expires ready messages at the head whose TTL has passed (RabbitMQ: only at the head). */
  async expireHead(): Promise<number> {
    const now = this.clock.nowMs();
    const expired: ReadyEntry[] = [];
    while (this.ready.peek(this.scratch) && this.scratch.expiresAt !== 0 && this.scratch.expiresAt < now) {
      const e = newReadyEntry();
      this.ready.shift(e);
      expired.push(e);
    }
    if (expired.length > 0) await this.deadLetterEntries(expired, 'expired');
    this.armExpiryTimer();
    return expired.length;
  }

  private armExpiryTimer(): void {
    if (this.expiryTimer || this.isClosed) return;
    if (!this.ready.peek(this.scratch) || this.scratch.expiresAt === 0) return;
    const delay = Math.max(0, this.scratch.expiresAt - this.clock.nowMs() + 1);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.scheduleDrain();
    }, Math.min(delay, 2 ** 31 - 1));
    this.expiryTimer.unref();
  }

  private async deadLetterEntries(entries: ReadyEntry[], reason: DeathReason): Promise<void> {
    const dlx = this.arguments.deadLetterExchange;
    const sink = this.opts.deadLetterSink;
    if (dlx !== undefined && sink) {
      const now = this.clock.nowMs();
      const messages: Message[] = [];
      for (const e of entries) {
        const m = await this.bodyOf(e.offset);
        messages.push(
          addXDeath(m, {
            queue: this.name,
            reason,
            exchange: m.exchange ?? '',
            routingKeys: [m.routingKey ?? ''],
            timeMs: now,
            originalExpiration: m.properties.expirationMs,
          }),
        );
      }
      await sink.deadLetter(this, messages, dlx, this.arguments.deadLetterRoutingKey);
    }
    for (const e of entries) this.settleOffset(e.offset);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /** Settles every ready message; returns how many. */
  purge(): number {
    const n = this.ready.length;
    const e = newReadyEntry();
    while (this.ready.shift(e)) this.settleOffset(e.offset);
    this.cache.clear();
    return n;
  }

  /** Marks use for x-expires. */
  private touch(): void {
    const ms = this.arguments.expiresMs;
    if (ms === undefined || this.isClosed) return;
    if (this.unusedTimer) clearTimeout(this.unusedTimer);
    this.unusedTimer = undefined;
    if (this.consumers.length > 0) return;
    this.unusedTimer = setTimeout(() => {
      if (this.consumers.length === 0 && !this.isClosed) this.opts.onUnused?.(this, 'expired');
    }, ms);
    this.unusedTimer.unref();
  }

  private checkOpen(): void {
    if (this.isClosed) throw new BrokerError(ErrorCode.NotFound, `no queue '${this.name}' in vhost '${this.vhost}'`);
  }

  /** Flushes settlement state and closes the log (a broker restart). In-flight messages stay unsettled. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.checkDecongested();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.unusedTimer) clearTimeout(this.unusedTimer);
    // Clean shutdown: every delivery's own mark is written, so the delivered mark comes down from its
    // reservation to what it was at open (if this write fails, the reservation stays: more messages flagged
    // redelivered, none missed).
    await this.state.flush().catch(() => undefined);
    await this.state.writeDeliveredMark(this.reservation.recovered).catch(() => undefined);
    await this.state.close();
    await this.log.close();
  }

  /** Deletes the queue: cancels consumers, removes its data. */
  async delete(reason = 'queue deleted'): Promise<number> {
    const n = this.ready.length;
    const consumers = this.consumers.splice(0);
    this.isClosed = true;
    this.checkDecongested();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.unusedTimer) clearTimeout(this.unusedTimer);
    for (const c of consumers) {
      c.gone = true;
      c.credit?.detach(this);
      c.consumer.cancelled(this, c.tag, reason);
    }
    // Deliveries of a deleted queue no longer hold shared credit.
    for (const f of this.inflight.values()) {
      f.credit?.release();
      f.credit = undefined;
    }
    await this.state.destroy();
    await this.log.destroy();
    return n;
  }
}
