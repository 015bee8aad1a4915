// AMQP basic properties <-> the core's Message (design.md §1; docs/interop.md). Inside AMQP the round trip is
// lossless: field tables keep their types, delivery-mode 1/2 and absent stay distinct, timestamps are
// seconds on the wire and milliseconds in the core.
import type { FieldTable, Message, MessageProperties } from '../../core/message.js';
import type { BasicProperties } from './codec/generated/basic-properties.js';
import { preconditionFailed } from './errors.js';

const DECIMAL = /^[0-9]+$/;

/** A publish's properties and body as a core Message. Throws 406 for a bad expiration. */
export function messageFromPublish(props: BasicProperties, body: Buffer, exchange: string, routingKey: string, nowMs: number): Message {
  return { key: null, value: body, timestamp: nowMs, headers: [], properties: messagePropertiesFromPublish(props), exchange, routingKey };
}

/** A publish's properties as core properties. Throws 406 for a bad expiration. */
export function messagePropertiesFromPublish(props: BasicProperties): MessageProperties {
  const p: MessageProperties = {};
  if (props.contentType !== undefined) p.contentType = props.contentType;
  if (props.contentEncoding !== undefined) p.contentEncoding = props.contentEncoding;
  if (props.headers !== undefined) p.headers = props.headers;
  if (props.deliveryMode !== undefined) p.persistent = props.deliveryMode === 2;
  if (props.priority !== undefined) p.priority = props.priority;
  if (props.correlationId !== undefined) p.correlationId = props.correlationId;
  if (props.replyTo !== undefined) p.replyTo = props.replyTo;
  if (props.expiration !== undefined) p.expirationMs = parseExpiration(props.expiration);
  if (props.messageId !== undefined) p.messageId = props.messageId;
  if (props.timestamp !== undefined) p.timestampMs = Number(props.timestamp) * 1000;
  if (props.type !== undefined) p.type = props.type;
  if (props.userId !== undefined) p.userId = props.userId;
  if (props.appId !== undefined) p.appId = props.appId;
  if (props.clusterId !== undefined) p.clusterId = props.clusterId;
  return p;
}

/** `expiration` is a non-negative decimal integer of milliseconds (RabbitMQ); anything else is 406. */
export function parseExpiration(s: string): number {
  if (!DECIMAL.test(s) || s.length > 15) throw preconditionFailed(`invalid expiration '${s}'`);
  return Number(s);
}

/**
 * A stored message's AMQP properties. Messages from other protocols: Kafka record headers become longstr
 * entries of `headers` (unless an AMQP header of that name exists) and a record key becomes `x-kafka-key`.
 */
export function propertiesOf(m: Message, extraHeaders?: FieldTable): BasicProperties {
  const p = m.properties;
  const out: BasicProperties = {};
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.contentEncoding !== undefined) out.contentEncoding = p.contentEncoding;
  let headers = p.headers;
  if (m.headers.length > 0 || m.key !== null || extraHeaders) {
    headers = headers ? [...headers] : [];
    const have = new Set(headers.map(([k]) => k));
    for (const h of m.headers) if (!have.has(h.key)) headers.push([h.key, h.value === null ? { type: 'void' } : { type: 'longstr', value: h.value }]);
    if (m.key !== null && !have.has('x-kafka-key')) headers.push(['x-kafka-key', { type: 'longstr', value: m.key }]);
    if (extraHeaders) headers.push(...extraHeaders);
  }
  if (headers !== undefined) out.headers = headers;
  if (p.persistent !== undefined) out.deliveryMode = p.persistent ? 2 : 1;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.correlationId !== undefined) out.correlationId = p.correlationId;
  if (p.replyTo !== undefined) out.replyTo = p.replyTo;
  if (p.expirationMs !== undefined) out.expiration = String(p.expirationMs);
  if (p.messageId !== undefined) out.messageId = p.messageId;
  if (p.timestampMs !== undefined) out.timestamp = BigInt(Math.floor(p.timestampMs / 1000));
  if (p.type !== undefined) out.type = p.type;
  if (p.userId !== undefined) out.userId = p.userId;
  if (p.appId !== undefined) out.appId = p.appId;
  if (p.clusterId !== undefined) out.clusterId = p.clusterId;
  return out;
}
