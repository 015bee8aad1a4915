// Idempotent-producer de-duplication per partition (Kafka's producer state, in memory): a batch whose
// producer id is set must carry the next sequence number of that producer and epoch; a retry of the
// last batch is answered with its original offsets instead of being appended twice.
import { BrokerError, ErrorCode } from '../../lib/errors.js';

interface ProducerEntry {
  epoch: number;
  lastBaseSequence: number;
  lastSequence: number;
  lastBaseOffset: number;
  lastLastOffset: number;
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; baseOffset: number; lastOffset: number };

/** Producers remembered per partition before the oldest are forgotten. */
const PRODUCERS_PER_PARTITION_MAX = 10_000;

export class ProducerState {
  private readonly producers = new Map<bigint, ProducerEntry>();

  /** Checks a batch before it is appended. Throws OutOfOrderSequence or InvalidProducerEpoch. */
  check(producerId: bigint, epoch: number, baseSequence: number): SequenceCheck {
    if (producerId < 0n) return { kind: 'append' };
    const e = this.producers.get(producerId);
    if (!e || epoch > e.epoch) return { kind: 'append' };
    if (epoch < e.epoch) throw new BrokerError(ErrorCode.InvalidProducerEpoch, `producer ${producerId} epoch ${epoch} is older than ${e.epoch}`);
    if (baseSequence === e.lastBaseSequence) return { kind: 'duplicate', baseOffset: e.lastBaseOffset, lastOffset: e.lastLastOffset };
    if (baseSequence !== ((e.lastSequence + 1) | 0) && !(e.lastSequence === 0x7fffffff && baseSequence === 0)) {
      throw new BrokerError(ErrorCode.OutOfOrderSequence, `producer ${producerId}: expected sequence ${e.lastSequence + 1}, got ${baseSequence}`);
    }
    return { kind: 'append' };
  }

  /** Records an appended batch. */
  record(producerId: bigint, epoch: number, baseSequence: number, recordCount: number, baseOffset: number, lastOffset: number): void {
    if (producerId < 0n) return;
    if (!this.producers.has(producerId) && this.producers.size >= PRODUCERS_PER_PARTITION_MAX) {
      this.producers.delete(this.producers.keys().next().value!);
    }
    this.producers.set(producerId, { epoch, lastBaseSequence: baseSequence, lastSequence: baseSequence + recordCount - 1, lastBaseOffset: baseOffset, lastLastOffset: lastOffset });
  }
}
