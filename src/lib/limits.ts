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
  /**
   * Bytes of records one Kafka Fetch response reads and returns at most, whatever max_bytes the client
   * asks for (Kafka's broker setting fetch.max.bytes, 55 MiB). The first batch of the first partition with
   * data is returned whole even if larger (KIP-74), so it is bounded by batchBytesMax instead.
   */
  fetchResponseBytesMax: 55 * 1024 * 1024,
  /** Bytes of records one Kafka Fetch reads per partition at most, whatever partition_max_bytes asks for. */
  fetchPartitionBytesMax: 16 * 1024 * 1024,
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
