// Every buffer, queue, frame and field has a named limit (design.md §8). Protocol-specific frame limits
// live with their protocol but are declared in the same style.
export const Limits = {
  /** Largest single record value accepted from any protocol. */
  messageBytesMax: 128 * 1024 * 1024,
  /** Largest batch (as stored) appended in one call. */
  batchBytesMax: 256 * 1024 * 1024,
  /** Name lengths: exchanges, queues, streams, vhosts (AMQP shortstr limit). */
  nameLengthMax: 255,
  /** Partitions per stream. */
  partitionsMax: 10_000,
  /** Priority levels a queue may declare (RabbitMQ caps x-max-priority at 255). */
  priorityMax: 255,
  /** Largest decompressed payload of one compressed record batch (bounds decompression bombs). */
  decompressedBytesMax: 256 * 1024 * 1024,
  /** Default segment size bound. */
  segmentBytesDefault: 1024 * 1024 * 1024,
  /**
   * Largest segment size bound (Kafka's segment.bytes cap): segment indexes store 32-bit file positions
   * and offsets relative to the segment's base.
   */
  segmentBytesMax: 2 ** 31 - 1,
  /** Queue segments are smaller so that settled prefixes free disk sooner. */
  queueSegmentBytesDefault: 64 * 1024 * 1024,
  /** Bytes between two sparse index entries. */
  indexIntervalBytes: 4096,
  /** Metadata journal size that triggers a snapshot. */
  metaJournalBytesMax: 4 * 1024 * 1024,
  /** Delivery count kept per message (saturates here). */
  deliveryCountMax: 0xffff,
  /** Header count and key size per message. */
  headersMax: 10_000,
  headerKeyBytesMax: 64 * 1024,
} as const;
