// queue.declare of an existing queue must be equivalent (README §8). The core compares its own parsed
// arguments; this file says why a redeclare is refused in RabbitMQ's words, naming what the client sent:
//
//   inequivalent arg 'durable' for queue 'q' in vhost '/': received 'false' but current is 'true'
//   inequivalent arg 'x-dead-letter-exchange' for queue 'q' in vhost '/': received none but current is the value 'dlx' of type 'longstr'
//   inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received '100' but current is '200'
//
// and an exclusive flag that does not match is 405 RESOURCE_LOCKED, as in RabbitMQ. The argument table a
// queue was first declared with over AMQP is remembered (per queue object, in memory) so that the current
// value is shown with the type it was declared with; after a restart integers show as 'long', strings as
// 'longstr'.
import type { FieldTable, FieldValue } from '../../core/message.js';
import type { Queue, QueueArguments } from '../../core/queues/queue.js';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { ReplyCode } from './codec/generated/constants.js';
import { AmqpError, preconditionFailed } from './errors.js';
import { lookup, stringValue, type ParsedQueueArguments, type QueueType } from './queue-arguments.js';

/** The arguments compared, in RabbitMQ's order, with the parsed value each one sets. */
const COMPARED: ReadonlyArray<[string, (a: QueueArguments, type: QueueType) => unknown]> = [
  ['x-expires', (a) => a.expiresMs],
  ['x-message-ttl', (a) => a.messageTtlMs],
  ['x-dead-letter-exchange', (a) => a.deadLetterExchange],
  ['x-dead-letter-routing-key', (a) => a.deadLetterRoutingKey],
  ['x-max-length', (a) => a.maxLength],
  ['x-max-length-bytes', (a) => a.maxLengthBytes],
  ['x-max-priority', (a) => a.maxPriority],
  ['x-overflow', (a) => a.overflow],
  ['x-queue-type', (_a, type) => type],
  ['x-single-active-consumer', (a) => a.singleActiveConsumer],
  ['x-delivery-limit', (a) => a.deliveryLimit],
];

/** RabbitMQ's names of the field value types. */
const TYPE_NAMES: { [k in FieldValue['type']]: string } = {
  bool: 'bool',
  int8: 'byte',
  uint8: 'unsignedbyte',
  int16: 'short',
  uint16: 'unsignedshort',
  int32: 'signedint',
  uint32: 'unsignedint',
  int64: 'long',
  uint64: 'long',
  float: 'float',
  double: 'double',
  decimal: 'decimal',
  timestamp: 'timestamp',
  shortstr: 'longstr',
  longstr: 'longstr',
  bytes: 'binary',
  table: 'table',
  array: 'array',
  void: 'void',
};

const declared = new WeakMap<Queue, FieldTable>();

/** Remembers the arguments a queue was first declared with over AMQP (their types show in errors). */
export function rememberDeclaredArguments(q: Queue, args: FieldTable): Queue {
  if (!declared.has(q)) declared.set(q, args);
  return q;
}

function typeOf(a: QueueArguments): QueueType {
  return a.deliveryCountHeader ? 'quorum' : 'classic';
}

/** A value as RabbitMQ prints it inside quotes. */
function show(v: FieldValue): string {
  const s = stringValue(v);
  if (s !== undefined) return s;
  if (v.type === 'void') return 'undefined';
  if (v.type === 'table' || v.type === 'array') return v.type;
  if (v.type === 'decimal') return String(v.value);
  return String(v.value);
}

function describe(v: FieldValue | undefined): string {
  return v === undefined ? 'none' : `the value '${show(v)}' of type '${TYPE_NAMES[v.type]}'`;
}

/** The current value of `name` on an existing queue: as declared if known, else from its parsed value. */
function currentValue(q: Queue, name: string, parsed: unknown): FieldValue | undefined {
  const table = declared.get(q);
  if (table !== undefined) {
    const v = lookup(table, name);
    if (v !== undefined || name !== 'x-queue-type' || parsed !== 'quorum') return v;
  }
  if (parsed === undefined || (name === 'x-queue-type' && parsed === 'classic')) return undefined;
  if (typeof parsed === 'string') return { type: 'longstr', value: Buffer.from(parsed) };
  if (typeof parsed === 'boolean') return { type: 'bool', value: parsed };
  if (typeof parsed === 'number') return { type: 'int64', value: BigInt(parsed) };
  return undefined;
}

export interface DeclareRequest {
  queue: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

/**
 * Why declaring `req` over the existing queue `q` is refused, in RabbitMQ's words (the first difference),
 * or undefined when it is equivalent. `exclusiveOwner` is the declaring connection's id.
 */
export function equivalenceError(q: Queue, req: DeclareRequest, parsed: ParsedQueueArguments, vhost: string, exclusiveOwner: string): AmqpError | undefined {
  const what = `queue '${q.name}' in vhost '${vhost}'`;
  if ((q.exclusiveOwner !== undefined || req.exclusive) && q.exclusiveOwner !== (req.exclusive ? exclusiveOwner : undefined)) {
    return new AmqpError(
      ReplyCode.ResourceLocked,
      `cannot obtain exclusive access to locked ${what}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
    );
  }
  if (q.durable !== req.durable) return preconditionFailed(`inequivalent arg 'durable' for ${what}: received '${req.durable}' but current is '${q.durable}'`);
  if (q.autoDelete !== req.autoDelete) return preconditionFailed(`inequivalent arg 'auto_delete' for ${what}: received '${req.autoDelete}' but current is '${q.autoDelete}'`);
  for (const [name, get] of COMPARED) {
    const want = get(parsed.queue, parsed.type);
    const have = get(q.arguments, typeOf(q.arguments));
    if (want === have) continue;
    const received = lookup(req.arguments, name);
    const current = currentValue(q, name, have);
    if (received !== undefined && current !== undefined) return preconditionFailed(`inequivalent arg '${name}' for ${what}: received '${show(received)}' but current is '${show(current)}'`);
    return preconditionFailed(`inequivalent arg '${name}' for ${what}: received ${describe(received)} but current is ${describe(current)}`);
  }
  return undefined;
}

/**
 * A refused declare in RabbitMQ's words when `err` is the core's inequivalence (or lock) error, else `err`.
 * err undefined: the declare is known to be refused (a stream declared over an existing queue).
 */
export function declareError(err: unknown, q: Queue | undefined, req: DeclareRequest, parsed: ParsedQueueArguments, vhost: string, exclusiveOwner: string): unknown {
  if (err === undefined && q !== undefined) return equivalenceError(q, req, parsed, vhost, exclusiveOwner) ?? preconditionFailed(`queue '${q.name}' in vhost '${vhost}' is not a stream`);
  if (q === undefined || !(err instanceof BrokerError) || (err.code !== ErrorCode.PreconditionFailed && err.code !== ErrorCode.ResourceLocked)) return err;
  return equivalenceError(q, req, parsed, vhost, exclusiveOwner) ?? err;
}

/** A declare naming an existing stream with another queue type (`received`: the x-queue-type sent, if any). */
export function streamTypeError(queue: string, vhost: string, received: FieldValue | undefined): AmqpError {
  const current: FieldValue = { type: 'longstr', value: Buffer.from('stream') };
  const what = `queue '${queue}' in vhost '${vhost}'`;
  if (received !== undefined) return preconditionFailed(`inequivalent arg 'x-queue-type' for ${what}: received '${show(received)}' but current is '${show(current)}'`);
  return preconditionFailed(`inequivalent arg 'x-queue-type' for ${what}: received none but current is ${describe(current)}`);
}
