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
  /** Set while the last batch's append is in flight (pipelined produce requests): its offsets to come. */
  pending: Promise<AppendedRange> | undefined;
  /** The entry this one replaced (while in flight), and whether its append failed. */
  prev: ProducerEntry | undefined;
  failed: boolean;
}

export interface AppendedRange {
  baseOffset: number;
  lastOffset: number;
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; baseOffset: number; lastOffset: number } | { kind: 'duplicate-pending'; pending: Promise<AppendedRange> };

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
    if (baseSequence === e.lastBaseSequence) {
      return e.pending ? { kind: 'duplicate-pending', pending: e.pending } : { kind: 'duplicate', baseOffset: e.lastBaseOffset, lastOffset: e.lastLastOffset };
    }
    if (baseSequence !== ((e.lastSequence + 1) | 0) && !(e.lastSequence === 0x7fffffff && baseSequence === 0)) {
      throw new BrokerError(ErrorCode.OutOfOrderSequence, `producer ${producerId}: expected sequence ${e.lastSequence + 1}, got ${baseSequence}`);
    }
    return { kind: 'append' };
  }

  /**
   * Records a batch whose append has started, so that the next batch of the same producer (pipelined on
   * the connection) is checked against it before this one is written. Returns a function that settles the
   * entry: with the offsets once written, or undefined if the append failed (the previous entry returns).
   */
  begin(producerId: bigint, epoch: number, baseSequence: number, recordCount: number, appended: Promise<AppendedRange>): (r: AppendedRange | undefined) => void {
    const previous = this.producers.get(producerId);
    const entry: ProducerEntry = { epoch, lastBaseSequence: baseSequence, lastSequence: baseSequence + recordCount - 1, lastBaseOffset: -1, lastLastOffset: -1, pending: appended, prev: previous, failed: false };
    this.put(producerId, entry);
    return (r) => {
      if (r) {
        entry.lastBaseOffset = r.baseOffset;
        entry.lastLastOffset = r.lastOffset;
        entry.pending = undefined;
        entry.prev = undefined;
        return;
      }
      entry.failed = true;
      if (this.producers.get(producerId) !== entry) return;
      // Back to the last batch that did not fail (a failed one in between is retried by the producer).
      let back = previous;
      while (back?.failed) back = back.prev;
      if (back) this.producers.set(producerId, back);
      else this.producers.delete(producerId);
    };
  }

  /** Records an appended batch (used when the state is rebuilt from the log). */
  record(producerId: bigint, epoch: number, baseSequence: number, recordCount: number, baseOffset: number, lastOffset: number): void {
    if (producerId < 0n) return;
    this.put(producerId, { epoch, lastBaseSequence: baseSequence, lastSequence: baseSequence + recordCount - 1, lastBaseOffset: baseOffset, lastLastOffset: lastOffset, pending: undefined, prev: undefined, failed: false });
  }

  private put(producerId: bigint, entry: ProducerEntry): void {
    if (!this.producers.has(producerId) && this.producers.size >= PRODUCERS_PER_PARTITION_MAX) {
      this.producers.delete(this.producers.keys().next().value!);
    }
    this.producers.set(producerId, entry);
  }
}
