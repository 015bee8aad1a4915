// queue.declare x-arguments → the core's protocol-neutral queue arguments (README §8). Any integer type is
// accepted for numeric arguments; a wrong type or range is 406 PRECONDITION_FAILED, as in RabbitMQ.
import type { FieldTable, FieldValue } from '../../core/message.js';
import type { OverflowPolicy, QueueArguments } from '../../core/queues/queue.js';
import type { StreamConfig } from '../../core/streams/stream.js';
import { Limits } from '../../lib/limits.js';
import { preconditionFailed } from './errors.js';

export type QueueType = 'classic' | 'quorum' | 'stream';

export interface ParsedQueueArguments {
  type: QueueType;
  queue: QueueArguments;
  /** For x-queue-type=stream. */
  stream: Partial<StreamConfig>;
}

/** RabbitMQ 4's delivery limit for quorum queues declared without x-delivery-limit. */
export const QUORUM_DELIVERY_LIMIT_DEFAULT = 20;

const INT_TYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'timestamp']);

/** An integer argument value, or undefined when the value is not an integer type. */
export function intValue(v: FieldValue): number | undefined {
  if (!INT_TYPES.has(v.type)) return undefined;
  const n = Number((v as { value: number | bigint }).value);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function stringValue(v: FieldValue): string | undefined {
  return v.type === 'longstr' || v.type === 'shortstr' || v.type === 'bytes' ? v.value.toString('utf8') : undefined;
}

export function lookup(table: FieldTable | undefined, name: string): FieldValue | undefined {
  if (!table) return undefined;
  for (const [k, v] of table) if (k === name) return v;
  return undefined;
}

function int(name: string, v: FieldValue, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = intValue(v);
  if (n === undefined) throw preconditionFailed(`invalid arg '${name}' for queue: expected an integer, got ${v.type}`);
  if (n < min || n > max) throw preconditionFailed(`invalid arg '${name}' for queue: ${n} is out of range`);
  return n;
}

function str(name: string, v: FieldValue): string {
  const s = stringValue(v);
  if (s === undefined) throw preconditionFailed(`invalid arg '${name}' for queue: expected a string, got ${v.type}`);
  return s;
}

const UNIT_MS: Record<string, number> = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** RabbitMQ's x-max-age / interval form: `7D`, `12h`, `30m`, `10s`, `1Y`, `1M`. */
export function parseAge(s: string): number | undefined {
  const m = /^([0-9]+)([YMDhms])$/.exec(s);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

export function parseQueueArguments(args: FieldTable): ParsedQueueArguments {
  const out: ParsedQueueArguments = { type: 'classic', queue: {}, stream: {} };
  const q = out.queue;
  for (const [name, v] of args) {
    switch (name) {
      case 'x-queue-type': {
        const t = str(name, v);
        if (t !== 'classic' && t !== 'quorum' && t !== 'stream') throw preconditionFailed(`invalid arg 'x-queue-type' for queue: '${t}' is not one of classic, quorum, stream`);
        out.type = t;
        break;
      }
      case 'x-message-ttl':
        q.messageTtlMs = int(name, v, 0);
        break;
      case 'x-expires':
        q.expiresMs = int(name, v, 1);
        break;
      case 'x-max-length':
        q.maxLength = int(name, v, 0);
        break;
      case 'x-max-length-bytes':
        q.maxLengthBytes = int(name, v, 0);
        out.stream.retentionBytes = q.maxLengthBytes;
        break;
      case 'x-overflow': {
        const o = str(name, v);
        if (o !== 'drop-head' && o !== 'reject-publish' && o !== 'reject-publish-dlx') throw preconditionFailed(`invalid arg 'x-overflow' for queue: '${o}'`);
        q.overflow = o as OverflowPolicy;
        break;
      }
      case 'x-dead-letter-exchange':
        q.deadLetterExchange = str(name, v);
        break;
      case 'x-dead-letter-routing-key':
        q.deadLetterRoutingKey = str(name, v);
        break;
      case 'x-max-priority':
        q.maxPriority = int(name, v, 0, 255);
        break;
      case 'x-single-active-consumer':
        if (v.type !== 'bool') throw preconditionFailed(`invalid arg 'x-single-active-consumer' for queue: expected a bool, got ${v.type}`);
        q.singleActiveConsumer = v.value;
        break;
      case 'x-max-age': {
        const ms = parseAge(str(name, v));
        if (ms === undefined) throw preconditionFailed(`invalid arg 'x-max-age' for queue: '${str(name, v)}'`);
        out.stream.retentionMs = ms;
        break;
      }
      case 'x-delivery-limit':
        // -1 (RabbitMQ 4) = no limit
        q.deliveryLimit = int(name, v, -1);
        break;
      case 'x-stream-max-segment-size-bytes':
        out.stream.segmentBytes = int(name, v, 14, Limits.segmentBytesMax);
        break;
      default:
        break; // RabbitMQ ignores arguments it does not know
    }
  }
  if (out.type === 'quorum') {
    // Quorum queues count deliveries: redeliveries carry x-delivery-count, and past the limit (RabbitMQ 4's
    // default of 20 unless x-delivery-limit says otherwise) a returned message is dead-lettered.
    q.deliveryCountHeader = true;
    if (q.deliveryLimit === undefined) q.deliveryLimit = QUORUM_DELIVERY_LIMIT_DEFAULT;
    else if (q.deliveryLimit < 0) delete q.deliveryLimit;
  } else delete q.deliveryLimit; // classic queues ignore it, as RabbitMQ does
  if (q.deadLetterRoutingKey !== undefined && q.deadLetterExchange === undefined) {
    throw preconditionFailed(`invalid arg 'x-dead-letter-routing-key' for queue: Key x-dead-letter-exchange should be present`);
  }
  return out;
}
