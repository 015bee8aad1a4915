// One AMQP channel (README §7–§12): exchange, queue, basic, confirm and tx methods mapped onto the core.
// Delivery tags are per channel; each maps to the queue (or stream subscription) and the queue's own
// delivery id. Publishes are batched by the connection's pump and confirmed in order.
import { randomBytes } from 'node:crypto';
import type { Broker, PublishResult } from '../../core/broker.js';
import type { FieldTable, Message, MessageHeader, MessageProperties } from '../../core/message.js';
import type { Delivery, Queue, QueueConsumer } from '../../core/queues/queue.js';
import { CreditGroup } from '../../core/queues/credit-group.js';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { BasicProperties } from './codec/generated/basic-properties.js';
import { ReplyCode } from './codec/generated/constants.js';
import * as M from './codec/generated/methods.js';
import type { AmqpConnection } from './connection.js';
import { REPLY_TO_PREFIX, REPLY_TO_QUEUE, type ReplyTarget } from './direct-reply-to.js';
import { AmqpError, accessRefused, amqpErrorOf, notAllowed, notFound, notImplemented, preconditionFailed } from './errors.js';
import { messagePropertiesFromPublish, propertiesOf } from './properties.js';
import { deliveryPropertiesBytes } from './deliverable.js';
import { intValue, lookup, parseQueueArguments } from './queue-arguments.js';
import { StreamSubscription, parseStreamOffset, streamCount } from './stream-consumer.js';
import { TxPublishes } from './tx-publishes.js';
import { PendingContent } from './pending-content.js';
import { declareError, rememberDeclaredArguments, streamTypeError } from './queue-equivalence.js';
import { UnackedDeliveries } from './unacked-deliveries.js';

/** A complete basic.publish: its method's fields, content properties and body. */
export interface PublishCommand {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  immediate: boolean;
  props: BasicProperties;
  body: Buffer;
}

interface Subscription {
  tag: string;
  queue?: Queue;
  stream?: StreamSubscription;
  replyAddress?: string;
  noAck: boolean;
}

interface PendingBatch {
  exchange: string;
  messages: Message[];
  /** Parallel to messages. */
  mandatory: boolean[];
  props: BasicProperties[];
  /** Confirm sequence number of the first message (0 = not in confirm mode). */
  firstSeq: number;
  bytes: number;
}

type TxAck = { kind: 'ack' | 'nack'; tag: number; multiple: boolean; requeue: boolean };

const EMPTY = Buffer.alloc(0);
/** Messages from AMQP publishes have no Kafka-style record headers: one shared, frozen empty list. */
const NO_HEADERS = Object.freeze([]) as unknown as MessageHeader[];

/** Methods that settle deliveries and get no answer: the only ones not preceded by writing settlements. */
const SETTLING_METHODS = new Set(['basic.ack', 'basic.nack', 'basic.reject', 'basic.recover-async', 'channel.close-ok', 'channel.flow-ok']);

const ctag = (): string => `amq.ctag-${randomBytes(16).toString('base64url')}`;

export class AmqpChannel implements ReplyTarget {
  closing = false;
  /** Body bytes still to skip after a refused oversize content header. */
  skipBody = 0;
  private nextTag = 1;
  private readonly unacked = new UnackedDeliveries();
  private readonly subs = new Map<string, Subscription>();
  private prefetchCount = 0;
  /** basic.qos global=true: one limit shared by every queue consumer on the channel (RabbitMQ 3.x). */
  private readonly sharedCredit = new CreditGroup(0);
  private confirm = false;
  private publishSeq = 0;
  private tx = false;
  private readonly txPublishes = new TxPublishes();
  private txAcks: TxAck[] = [];
  private lastQueue: string | undefined;
  private batch: PendingBatch | undefined;
  private publishTail: Promise<void> = Promise.resolve();
  private replyAddress: string | undefined;
  private readonly writeAllowed = new Set<string>();
  /** The publish being assembled on this channel (the connection fills it frame by frame). */
  readonly pending: PendingContent;
  /** The last publish properties turned into core properties, and the result (shared, never mutated). */
  private memoPublishProps: BasicProperties | undefined;
  private memoMessageProps: MessageProperties | undefined;
  /** The last core properties encoded for delivery (no Kafka headers or key), and their AMQP bytes. */
  private memoDeliveryProps: MessageProperties | undefined;
  private memoDeliveryBytes: Buffer = EMPTY;
  private readonly onCongested = (drained: Promise<void>): void => this.conn.holdForFlow(drained);
  /** Consumers gone and unacked deliveries handed back (channel or connection closed). */
  private released = false;

  constructor(
    readonly conn: AmqpConnection,
    readonly id: number,
  ) {
    this.pending = new PendingContent(conn.contentAssembly);
  }

  private get broker(): Broker {
    return this.conn.broker;
  }

  private get vhost(): string {
    return this.conn.vhost;
  }

  sendOpenOk(): void {
    this.conn.write(M.encodeChannelOpenOkFrame(this.id, { channelId: Buffer.alloc(0) }));
  }

  sendCloseOk(): void {
    this.conn.write(M.encodeChannelCloseOkFrame(this.id, {}));
  }

  /** A soft error: channel.close to the client; frames on this channel are dropped until close-ok. Hard errors close the connection. */
  fail(e: AmqpError): void {
    if (e.hard) return this.conn.hardError(e);
    if (this.closing) return;
    this.closing = true;
    this.conn.write(M.encodeChannelCloseFrame(this.id, { replyCode: e.code, replyText: e.replyText, classId: e.classId, methodId: e.methodId }));
    this.release();
  }

  // ---- method dispatch ----------------------------------------------------------------------------------

  async handle(m: M.AmqpMethod): Promise<void> {
    try {
      await this.dispatch(m);
    } catch (err) {
      this.fail(amqpErrorOf(err, m.classId, m.methodId));
    }
  }

  private async dispatch(m: M.AmqpMethod): Promise<void> {
    const id = this.id;
    // An ack the broker has answered past must survive a crash: settlements before this method are
    // written (fsync'd per policy) before it is answered.
    if (this.unacked.settling && !SETTLING_METHODS.has(m.name)) await this.unacked.settlementsWritten();
    switch (m.name) {
      case 'channel.close':
        this.release();
        this.closing = true;
        this.sendCloseOk();
        this.conn.channelClosed(this);
        return;
      case 'channel.close-ok':
        return;
      case 'channel.flow':
        if (!m.args.active) throw notImplemented(`active=false`);
        this.conn.write(M.encodeChannelFlowOkFrame(id, { active: true }));
        return;
      case 'channel.flow-ok':
        return;
      case 'access.request':
        this.conn.write(M.encodeAccessRequestOkFrame(id, { ticket: 1 }));
        return;
      case 'exchange.declare':
        return this.exchangeDeclare(m.args);
      case 'exchange.delete':
        this.checkPermission('configure', m.args.exchange, 'exchange');
        await this.broker.deleteExchange(this.vhost, m.args.exchange, { ifUnused: m.args.ifUnused });
        if (!m.args.nowait) this.conn.write(M.encodeExchangeDeleteOkFrame(id, {}));
        return;
      case 'exchange.bind':
      case 'exchange.unbind': {
        const a = m.args;
        this.checkPermission('write', a.destination, 'exchange');
        this.checkPermission('read', a.source, 'exchange');
        if (m.name === 'exchange.bind') await this.broker.bind(this.vhost, a.source, { kind: 'exchange', name: a.destination }, a.routingKey, a.arguments);
        else await this.broker.unbind(this.vhost, a.source, { kind: 'exchange', name: a.destination }, a.routingKey, a.arguments);
        if (!a.nowait) this.conn.write(m.name === 'exchange.bind' ? M.encodeExchangeBindOkFrame(id, {}) : M.encodeExchangeUnbindOkFrame(id, {}));
        return;
      }
      case 'queue.declare':
        return this.queueDeclare(m.args);
      case 'queue.bind':
      case 'queue.unbind': {
        const a = m.args;
        const queue = this.queueName(a.queue);
        const key = a.queue === '' && a.routingKey === '' ? queue : a.routingKey;
        if (queue.startsWith(REPLY_TO_QUEUE)) throw accessRefused(`${m.name === 'queue.bind' ? 'binding' : 'unbinding'} '${queue}' is not allowed`);
        this.checkPermission('write', queue, 'queue');
        this.checkPermission('read', a.exchange, 'exchange');
        this.checkExclusive(queue);
        const dest = { kind: this.broker.findStream(this.vhost, queue) ? ('stream' as const) : ('queue' as const), name: queue };
        if (!this.broker.findStream(this.vhost, queue) && !this.findQueue(queue)) throw notFound(`no queue '${queue}' in vhost '${this.vhost}'`);
        if (m.name === 'queue.bind') {
          await this.broker.bind(this.vhost, a.exchange, dest, key, a.arguments);
          if (!m.args.nowait) this.conn.write(M.encodeQueueBindOkFrame(id, {}));
        } else {
          await this.broker.unbind(this.vhost, a.exchange, dest, key, a.arguments);
          this.conn.write(M.encodeQueueUnbindOkFrame(id, {}));
        }
        return;
      }
      case 'queue.purge': {
        const q = this.mustQueue(this.queueName(m.args.queue));
        this.checkPermission('read', q.name, 'queue');
        const n = q.purge();
        if (!m.args.nowait) this.conn.write(M.encodeQueuePurgeOkFrame(id, { messageCount: n }));
        return;
      }
      case 'queue.delete':
        return this.queueDelete(m.args);
      case 'basic.qos':
        if (m.args.prefetchSize !== 0) throw notImplemented(`prefetch_size!=0 (${m.args.prefetchSize})`);
        // RabbitMQ's meaning: global=false limits each consumer created afterwards; global=true sets one
        // limit shared by all the channel's queue consumers, existing and future. Both may apply.
        if (m.args.global) this.sharedCredit.limit = m.args.prefetchCount;
        else this.prefetchCount = m.args.prefetchCount;
        this.conn.write(M.encodeBasicQosOkFrame(id, {}));
        return;
      case 'basic.consume':
        return this.consume(m.args);
      case 'basic.cancel':
        this.cancel(m.args.consumerTag);
        if (!m.args.nowait) this.conn.write(M.encodeBasicCancelOkFrame(id, { consumerTag: m.args.consumerTag }));
        return;
      case 'basic.get':
        return this.get(m.args);
      case 'basic.ack':
        if (this.tx) return void this.txAcks.push({ kind: 'ack', tag: Number(m.args.deliveryTag), multiple: m.args.multiple, requeue: false });
        return this.unacked.settle('ack', Number(m.args.deliveryTag), m.args.multiple, false);
      case 'basic.nack':
        if (this.tx) return void this.txAcks.push({ kind: 'nack', tag: Number(m.args.deliveryTag), multiple: m.args.multiple, requeue: m.args.requeue });
        return this.unacked.settle('nack', Number(m.args.deliveryTag), m.args.multiple, m.args.requeue);
      case 'basic.reject':
        if (this.tx) return void this.txAcks.push({ kind: 'nack', tag: Number(m.args.deliveryTag), multiple: false, requeue: m.args.requeue });
        return this.unacked.settle('nack', Number(m.args.deliveryTag), false, m.args.requeue);
      case 'basic.recover':
      case 'basic.recover-async':
        if (!m.args.requeue) throw notImplemented(`requeue=false`);
        await this.unacked.requeueAll();
        if (m.name === 'basic.recover') this.conn.write(M.encodeBasicRecoverOkFrame(id, {}));
        return;
      case 'confirm.select':
        if (this.tx) throw preconditionFailed(`cannot switch from tx to confirm mode`);
        this.confirm = true;
        if (!m.args.nowait) this.conn.write(M.encodeConfirmSelectOkFrame(id, {}));
        return;
      case 'tx.select':
        if (this.confirm) throw preconditionFailed(`cannot switch from confirm to tx mode`);
        this.tx = true;
        this.conn.write(M.encodeTxSelectOkFrame(id, {}));
        return;
      case 'tx.commit':
        return this.txCommit();
      case 'tx.rollback':
        if (!this.tx) throw preconditionFailed(`channel is not transactional`);
        this.txPublishes.clear();
        this.txAcks = [];
        this.conn.write(M.encodeTxRollbackOkFrame(id, {}));
        return;
      default:
        throw new AmqpError(ReplyCode.CommandInvalid, `method ${m.name} is not valid from a client`, m.classId, m.methodId);
    }
  }

  // ---- permissions and lookups --------------------------------------------------------------------------

  private checkPermission(kind: 'configure' | 'write' | 'read', name: string, what: 'exchange' | 'queue'): void {
    const resource = name === '' && what === 'exchange' ? 'amq.default' : name;
    if (!this.broker.users.isAllowed(this.conn.user, this.vhost, kind, resource)) {
      throw accessRefused(`access to ${what} '${name}' in vhost '${this.vhost}' refused for user '${this.conn.user}'`);
    }
  }

  private queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastQueue === undefined) throw notFound(`no previously declared queue`);
    return this.lastQueue;
  }

  private findQueue(name: string): Queue | undefined {
    try {
      return this.broker.getQueue(this.vhost, name);
    } catch {
      return undefined;
    }
  }

  private mustQueue(name: string): Queue {
    const q = this.findQueue(name);
    if (!q) throw notFound(`no queue '${name}' in vhost '${this.vhost}'`);
    if (q.exclusiveOwner !== undefined && q.exclusiveOwner !== this.conn.id) throw this.locked(name);
    return q;
  }

  private locked(name: string): AmqpError {
    return new AmqpError(ReplyCode.ResourceLocked, `cannot obtain exclusive access to locked queue '${name}' in vhost '${this.vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`);
  }

  private checkExclusive(name: string): void {
    const q = this.findQueue(name);
    if (q && q.exclusiveOwner !== undefined && q.exclusiveOwner !== this.conn.id) throw this.locked(name);
  }

  // ---- exchanges and queues -----------------------------------------------------------------------------

  private async exchangeDeclare(a: M.ExchangeDeclareArgs): Promise<void> {
    if (a.passive) {
      if (a.exchange === '') throw accessRefused(`operation not permitted on the default exchange`);
      this.broker.vhost(this.vhost).exchanges.declarePassive(a.exchange);
    } else {
      this.checkPermission('configure', a.exchange, 'exchange');
      await this.broker.declareExchange(this.vhost, a.exchange, a.type, { durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: a.arguments });
    }
    if (!a.nowait) this.conn.write(M.encodeExchangeDeclareOkFrame(this.id, {}));
  }

  private async queueDeclare(a: M.QueueDeclareArgs): Promise<void> {
    const id = this.id;
    const ok = (queue: string, messageCount: number, consumerCount: number) => {
      this.lastQueue = queue;
      if (!a.nowait) this.conn.write(M.encodeQueueDeclareOkFrame(id, { queue, messageCount, consumerCount }));
    };
    if (a.passive) {
      const name = this.queueName(a.queue);
      if (name.startsWith(REPLY_TO_PREFIX)) {
        if (!this.conn.ctx.replyTo.has(name)) throw notFound(`no queue '${name}' in vhost '${this.vhost}'`);
        return ok(name, 0, 1);
      }
      const st = this.broker.findStream(this.vhost, name);
      if (st) return ok(name, streamCount(st), 0);
      const q = this.mustQueue(name);
      return ok(name, q.messageCount, q.consumerCount);
    }
    if (a.queue === REPLY_TO_QUEUE || a.queue.startsWith(REPLY_TO_PREFIX)) throw accessRefused(`queue name '${a.queue}' contains reserved prefix 'amq.*'`);
    if (a.queue !== '') this.checkPermission('configure', a.queue, 'queue');
    const parsed = parseQueueArguments(a.arguments);
    if (parsed.type === 'stream') {
      if (!a.durable || a.exclusive || a.autoDelete || a.queue === '') {
        const what = !a.durable ? 'non-durable' : a.exclusive ? 'exclusive' : a.autoDelete ? 'auto-delete' : 'server-named';
        throw preconditionFailed(`invalid property '${what}' for queue '${a.queue}' in vhost '${this.vhost}'`);
      }
      if (this.findQueue(a.queue)) throw declareError(undefined, this.findQueue(a.queue), a, parsed, this.vhost, this.conn.id);
      const st = await this.broker.declareStream(this.vhost, a.queue, parsed.stream);
      return ok(a.queue, streamCount(st), 0);
    }
    if (parsed.type === 'quorum' && (!a.durable || a.exclusive || a.autoDelete)) {
      throw preconditionFailed(`invalid property '${!a.durable ? 'non-durable' : a.exclusive ? 'exclusive' : 'auto-delete'}' for queue '${a.queue}' in vhost '${this.vhost}'`);
    }
    if (a.queue !== '' && this.broker.findStream(this.vhost, a.queue)) {
      throw streamTypeError(a.queue, this.vhost, lookup(a.arguments, 'x-queue-type'));
    }
    const q = await this.broker
      .declareQueue(this.vhost, a.queue, { durable: a.durable, autoDelete: a.autoDelete, exclusiveOwner: a.exclusive ? this.conn.id : undefined, arguments: parsed.queue })
      .then((q) => rememberDeclaredArguments(q, a.arguments), (err: unknown) => Promise.reject(declareError(err, a.queue === '' ? undefined : this.findQueue(a.queue), a, parsed, this.vhost, this.conn.id)));
    ok(q.name, q.messageCount, q.consumerCount);
  }

  private async queueDelete(a: M.QueueDeleteArgs): Promise<void> {
    const name = this.queueName(a.queue);
    this.checkPermission('configure', name, 'queue');
    this.checkExclusive(name);
    const count = await this.broker.deleteQueueOrStream(this.vhost, name, { ifUnused: a.ifUnused, ifEmpty: a.ifEmpty, owner: this.conn.id });
    if (!a.nowait) this.conn.write(M.encodeQueueDeleteOkFrame(this.id, { messageCount: count }));
  }

  // ---- publishing ---------------------------------------------------------------------------------------

  /** A complete basic.publish (method, header, body), in command order. */
  addPublish(exchange: string, routingKey: string, mandatory: boolean, immediate: boolean, props: BasicProperties, body: Buffer): void {
    try {
      if (this.tx) {
        this.validatePublish(exchange, immediate, props);
        this.txPublishes.add({ exchange, routingKey, mandatory, immediate, props, body }, this.conn.ctx.settings.txPublishBytesMax);
        return;
      }
      this.stagePublish(exchange, routingKey, mandatory, immediate, props, body);
    } catch (err) {
      this.fail(amqpErrorOf(err, 60, 40));
    }
  }

  private validatePublish(exchange: string, immediate: boolean, props: BasicProperties): void {
    if (immediate) throw notImplemented(`immediate=true`);
    const x = this.broker.vhost(this.vhost).exchanges.lookup(exchange);
    if (!x) throw notFound(`no exchange '${exchange}' in vhost '${this.vhost}'`);
    if (x.internal) throw accessRefused(`cannot publish to internal exchange '${exchange}' in vhost '${this.vhost}'`);
    if (!this.writeAllowed.has(exchange)) {
      this.checkPermission('write', exchange, 'exchange');
      this.writeAllowed.add(exchange);
    }
    if (props.userId !== undefined && props.userId !== this.conn.user) {
      throw preconditionFailed(`user_id property set to '${props.userId}' but authenticated user was '${this.conn.user}'`);
    }
    if (props.replyTo === REPLY_TO_QUEUE && this.replyAddress === undefined) throw preconditionFailed(`fast reply consumer does not exist`);
  }

  /** Core properties of a publish; a publisher repeating its properties gets the same (shared) object. */
  private messagePropertiesOf(props: BasicProperties): MessageProperties {
    if (props === this.memoPublishProps) return this.memoMessageProps!;
    const mp = messagePropertiesFromPublish(props);
    this.memoPublishProps = props;
    this.memoMessageProps = mp;
    return mp;
  }

  private stagePublish(exchange: string, routingKey: string, mandatory: boolean, immediate: boolean, publishProps: BasicProperties, body: Buffer): void {
    this.validatePublish(exchange, immediate, publishProps);
    const seq = this.confirm ? ++this.publishSeq : 0;
    let props = publishProps;
    let mp: MessageProperties;
    if (props.replyTo === REPLY_TO_QUEUE) {
      props = { ...props, replyTo: this.replyAddress };
      mp = messagePropertiesFromPublish(props);
    } else mp = this.messagePropertiesOf(props);
    const msg: Message = { key: null, value: body, timestamp: Date.now(), headers: NO_HEADERS, properties: mp, exchange, routingKey };
    if (exchange === '' && routingKey.startsWith(REPLY_TO_PREFIX)) {
      // Direct reply-to: no queue; settle in order behind earlier publishes.
      this.flushPublishes();
      const delivered = this.conn.ctx.replyTo.deliver(routingKey, '', msg);
      this.publishTail = this.publishTail.then(() => {
        if (!delivered && mandatory) this.sendReturn(ReplyCode.NoRoute, 'NO_ROUTE', exchange, routingKey, props, body);
        if (seq > 0) this.conn.write(M.encodeBasicAckFrame(this.id, { deliveryTag: BigInt(seq), multiple: false }));
      });
      return;
    }
    let b = this.batch;
    if (b && b.exchange !== exchange) {
      this.flushPublishes();
      b = undefined;
    }
    if (!b) b = this.batch = { exchange: exchange, messages: [], mandatory: [], props: [], firstSeq: seq, bytes: 0 };
    b.messages.push(msg);
    b.mandatory.push(mandatory);
    b.props.push(props);
    b.bytes += body.length;
    this.conn.unsettledBytes += body.length;
  }

  /** Hands the pending batch to the core; confirms and returns follow in publish order. */
  flushPublishes(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    const stored = this.broker.publish(this.vhost, b.exchange, b.messages, { onCongested: this.onCongested }).then(
      (r) => r,
      (err: unknown) => err as Error,
    );
    const prev = this.publishTail;
    this.publishTail = (async () => {
      const result = await stored;
      await prev;
      this.conn.unsettledBytes -= b.bytes;
      this.conn.checkBackPressure();
      this.settleBatch(b, result);
    })();
  }

  private settleBatch(b: PendingBatch, result: PublishResult[] | Error): void {
    if (this.closing) return;
    if (result instanceof Error) {
      if (b.firstSeq > 0) {
        const last = b.firstSeq + b.messages.length - 1;
        this.conn.write(M.encodeBasicNackFrame(this.id, { deliveryTag: BigInt(last), multiple: true, requeue: false }));
        return;
      }
      this.fail(amqpErrorOf(result, 60, 40));
      return;
    }
    let allOk = true;
    for (let i = 0; i < result.length; i++) {
      const r = result[i]!;
      if (r.error) allOk = false;
      else if (r.routedQueues === 0 && b.mandatory[i]) {
        const m = b.messages[i]!;
        this.sendReturn(ReplyCode.NoRoute, 'NO_ROUTE', b.exchange, m.routingKey ?? '', b.props[i]!, m.value ?? Buffer.alloc(0));
      }
    }
    if (b.firstSeq === 0) return;
    if (allOk) {
      const last = b.firstSeq + result.length - 1;
      this.conn.write(M.encodeBasicAckFrame(this.id, { deliveryTag: BigInt(last), multiple: result.length > 1 }));
      return;
    }
    for (let i = 0; i < result.length; i++) {
      const tag = BigInt(b.firstSeq + i);
      this.conn.write(result[i]!.error ? M.encodeBasicNackFrame(this.id, { deliveryTag: tag, multiple: false, requeue: false }) : M.encodeBasicAckFrame(this.id, { deliveryTag: tag, multiple: false }));
    }
  }

  private sendReturn(code: number, text: string, exchange: string, routingKey: string, props: BasicProperties, body: Buffer): void {
    this.conn.write(M.encodeBasicReturnFrame(this.id, { replyCode: code, replyText: text, exchange, routingKey }));
    this.writeContent(props, body);
  }

  /** Resolves when every publish flushed so far is stored and confirmed. */
  publishesSettled(): Promise<void> {
    return this.publishTail;
  }

  private async txCommit(): Promise<void> {
    if (!this.tx) throw preconditionFailed(`channel is not transactional`);
    const publishes = this.txPublishes.take();
    const acks = this.txAcks;
    this.txAcks = [];
    for (const p of publishes) this.stagePublish(p.exchange, p.routingKey, p.mandatory, p.immediate, p.props, p.body);
    this.flushPublishes();
    await this.publishTail;
    for (const a of acks) await this.unacked.settle(a.kind, a.tag, a.multiple, a.requeue);
    await this.unacked.settlementsWritten();
    if (!this.closing) this.conn.write(M.encodeTxCommitOkFrame(this.id, {}));
  }

  // ---- consuming ----------------------------------------------------------------------------------------

  private async consume(a: M.BasicConsumeArgs): Promise<void> {
    const tag = a.consumerTag === '' ? ctag() : a.consumerTag;
    if (this.subs.has(tag)) throw notAllowed(`attempt to reuse consumer tag '${tag}'`);
    const ok = () => {
      if (!a.nowait) this.conn.write(M.encodeBasicConsumeOkFrame(this.id, { consumerTag: tag }));
    };
    if (a.queue === REPLY_TO_QUEUE) {
      if (!a.noAck) throw preconditionFailed(`reply consumer cannot acknowledge`);
      if (this.replyAddress !== undefined) throw preconditionFailed(`reply consumer already set`);
      this.replyAddress = this.conn.ctx.replyTo.register(this, tag);
      this.subs.set(tag, { tag, replyAddress: this.replyAddress, noAck: true });
      return ok();
    }
    const name = this.queueName(a.queue);
    this.checkPermission('read', name, 'queue');
    const priorityArg = lookup(a.arguments, 'x-priority');
    const priority = priorityArg ? intValue(priorityArg) : 0;
    if (priority === undefined) throw preconditionFailed(`invalid arg 'x-priority' for consumer: expected an integer`);
    const stream = this.broker.findStream(this.vhost, name);
    if (stream) {
      if (a.noAck) throw notImplemented(`stream consumers need manual acknowledgement (no_ack=true is not supported)`);
      if (this.prefetchCount === 0) throw preconditionFailed(`consumer prefetch count is not set for stream queue '${name}' in vhost '${this.vhost}'`);
      const offsetArg = lookup(a.arguments, 'x-stream-offset');
      const start = offsetArg ? parseStreamOffset(offsetArg) : { kind: 'next' as const };
      const sub = new StreamSubscription(stream, tag, this.prefetchCount, this);
      this.subs.set(tag, { tag, stream: sub, noAck: false });
      ok();
      await sub.start(start);
      return;
    }
    const q = this.mustQueue(name);
    this.lastQueue = name;
    const consumer: QueueConsumer & { ready(): boolean } = {
      deliver: (queue, consumerTag, deliveries) => this.deliverFromQueue(queue, consumerTag, deliveries, a.noAck),
      cancelled: (_queue, consumerTag) => this.serverCancel(consumerTag),
      ready: () => this.conn.writable,
    };
    try {
      q.addConsumer(tag, consumer, { prefetchCount: this.prefetchCount, noAck: a.noAck, exclusive: a.exclusive, priority, credit: this.sharedCredit });
    } catch (err) {
      if (err instanceof BrokerError && err.code === ErrorCode.ResourceLocked) throw accessRefused(`queue '${name}' in vhost '${this.vhost}' in exclusive use`);
      throw err;
    }
    this.subs.set(tag, { tag, queue: q, noAck: a.noAck });
    ok();
  }

  private deliverFromQueue(queue: Queue, consumerTag: string, deliveries: Delivery[], noAck: boolean): void {
    if (this.closing) return;
    for (const d of deliveries) {
      const tag = this.nextTag++;
      if (!noAck) this.unacked.set(tag, { queue, stream: undefined, deliveryId: d.deliveryId, consumerTag });
      this.writeDelivery(consumerTag, tag, d.redelivered, d.message, undefined);
    }
  }

  /** Stream subscriptions deliver through here (a delivery tag per message; acks return credit). */
  deliverFromStream(sub: StreamSubscription, message: Message, offset: number): void {
    const tag = this.nextTag++;
    this.unacked.set(tag, { queue: undefined, stream: sub, deliveryId: offset, consumerTag: sub.consumerTag });
    this.writeDelivery(sub.consumerTag, tag, false, message, [['x-stream-offset', { type: 'int64', value: BigInt(offset) }]]);
  }

  streamEnded(sub: StreamSubscription): void {
    this.serverCancel(sub.consumerTag);
  }

  deliverReply(consumerTag: string, exchange: string, routingKey: string, message: Message): boolean {
    if (this.closing || !this.subs.has(consumerTag)) return false;
    this.writeDelivery(consumerTag, this.nextTag++, false, { ...message, exchange, routingKey }, undefined);
    return true;
  }

  private writeDelivery(consumerTag: string, tag: number, redelivered: boolean, m: Message, extraHeaders: FieldTable | undefined): void {
    if (extraHeaders === undefined && m.key === null && m.headers.length === 0) {
      // The AMQP properties depend on m.properties alone: encode them once per properties object (messages
      // of one publisher share theirs), then copy the bytes.
      if (m.properties !== this.memoDeliveryProps) {
        this.memoDeliveryBytes = deliveryPropertiesBytes(propertiesOf(m), this.conn.frameMax);
        this.memoDeliveryProps = m.properties;
      }
      this.conn.contentOut.deliveryEncoded(this.id, consumerTag, tag, redelivered, m.exchange ?? '', m.routingKey ?? '', this.memoDeliveryBytes, m.value ?? EMPTY, this.conn.frameMax);
      return;
    }
    this.conn.contentOut.delivery(this.id, consumerTag, tag, redelivered, m.exchange ?? '', m.routingKey ?? '', propertiesOf(m, extraHeaders), m.value ?? EMPTY, this.conn.frameMax);
  }

  private writeContent(props: BasicProperties, body: Buffer): void {
    this.conn.contentOut.content(this.id, props, body, this.conn.frameMax);
  }

  get writable(): boolean {
    return this.conn.writable;
  }

  /** The socket drained: queues may deliver again. */
  onWritable(): void {
    for (const s of this.subs.values()) {
      s.queue?.resumeDelivery();
      s.stream?.wake();
    }
  }

  private cancel(tag: string): void {
    const s = this.subs.get(tag);
    if (!s) return; // RabbitMQ: cancelling an unknown tag is fine
    this.subs.delete(tag);
    // Unacked deliveries of a cancelled consumer stay unacked on the channel (README §9).
    s.queue?.removeConsumer(tag, { requeueUnacked: false });
    s.stream?.stop();
    if (s.replyAddress) {
      this.conn.ctx.replyTo.unregister(s.replyAddress);
      this.replyAddress = undefined;
    }
  }

  /** The queue went away: tell the client if it asked for consumer_cancel_notify (README §2). */
  private serverCancel(tag: string): void {
    if (!this.subs.delete(tag) || this.closing) return;
    for (const [t, u] of this.unacked) if (u.consumerTag === tag) this.unacked.delete(t);
    if (this.conn.clientCapabilities.has('consumer_cancel_notify')) this.conn.write(M.encodeBasicCancelFrame(this.id, { consumerTag: tag, nowait: true }));
  }

  private async get(a: M.BasicGetArgs): Promise<void> {
    const name = this.queueName(a.queue);
    this.checkPermission('read', name, 'queue');
    if (this.broker.findStream(this.vhost, name)) throw notImplemented(`basic.get not supported by stream queues (queue '${name}' in vhost '${this.vhost}')`);
    const q = this.mustQueue(name);
    this.lastQueue = name;
    // A channel closed while the body is read gets nothing: the message stays in the queue, undelivered.
    const d = await q.get(a.noAck, () => !this.released);
    if (!d) {
      if (!this.released) this.conn.write(M.encodeBasicGetEmptyFrame(this.id, { clusterId: '' }));
      return;
    }
    const tag = this.nextTag++;
    if (!a.noAck) this.unacked.set(tag, { queue: q, stream: undefined, deliveryId: d.deliveryId, consumerTag: undefined });
    const m = d.message;
    this.conn.write(M.encodeBasicGetOkFrame(this.id, { deliveryTag: BigInt(tag), redelivered: d.redelivered, exchange: m.exchange ?? '', routingKey: m.routingKey ?? '', messageCount: q.messageCount }));
    this.writeContent(propertiesOf(m), m.value ?? EMPTY);
  }

  /** The channel or its connection closed: consumers go, unacked deliveries return to their queues. */
  release(): void {
    this.released = true;
    for (const tag of [...this.subs.keys()]) this.cancel(tag);
    void this.unacked.requeueAll().catch(() => undefined);
    if (this.batch) this.conn.unsettledBytes -= this.batch.bytes; // dropped unpublished
    this.batch = undefined;
    this.txPublishes.clear();
    this.txAcks = [];
  }
}

