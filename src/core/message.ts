// The protocol-neutral message (design.md §1). Every protocol maps its messages onto this; the core stores
// it as one record of a RecordBatch v2 (see message-codec.ts for how properties travel in record headers).

/** A typed value of an AMQP-style field table. Types are kept so that a round trip is lossless. */
export type FieldValue =
  | { type: 'bool'; value: boolean }
  | { type: 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float' | 'double'; value: number }
  | { type: 'int64' | 'uint64' | 'timestamp'; value: bigint }
  | { type: 'decimal'; scale: number; value: number }
  | { type: 'shortstr' | 'longstr'; value: Buffer }
  | { type: 'bytes'; value: Buffer }
  | { type: 'table'; value: FieldTable }
  | { type: 'array'; value: FieldValue[] }
  | { type: 'void' };

/** Ordered (name, value) pairs; names are unique in practice but order is kept as sent. */
export type FieldTable = Array<[string, FieldValue]>;

export interface MessageProperties {
  contentType?: string;
  contentEncoding?: string;
  correlationId?: string;
  replyTo?: string;
  messageId?: string;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
  /** 0–255. */
  priority?: number;
  /** Per-message TTL in ms (AMQP `expiration`, MQTT message expiry, STOMP `expires` relative). */
  expirationMs?: number;
  /** true: persistent (AMQP delivery-mode 2, MQTT QoS ≥ 1, Kafka always). */
  persistent?: boolean;
  /** The message's own timestamp property (AMQP `timestamp`, seconds in AMQP; here ms). */
  timestampMs?: number;
  /** AMQP headers table (also where x-death and other x- headers live). */
  headers?: FieldTable;
}

/** Kafka-style record header (bytes). */
export interface MessageHeader {
  key: string;
  value: Buffer | null;
}

export interface Message {
  key: Buffer | null;
  value: Buffer | null;
  /** Record timestamp, ms since epoch (Kafka CreateTime / LogAppendTime, AMQP publish time). */
  timestamp: number;
  /** Kafka record headers, excluding the reserved ones the codec uses for properties and routing. */
  headers: MessageHeader[];
  properties: MessageProperties;
  /** Exchange the message was published to ('' for the default exchange); undefined for direct stream appends. */
  exchange?: string;
  /** Routing key it was published with (AMQP routing key, MQTT topic mapped, STOMP destination key). */
  routingKey?: string;
}
