// Idempotent-producer de-duplication per partition (Kafka's producer state, in memory): a batch whose
// producer id is set must carry the next sequence number of that producer and epoch; a retry of any of
// the producer's last PRODUCER_BATCHES_REMEMBERED batches (Kafka remembers 5: a producer keeps up to 5
// requests in flight) is answered with its original offsets instead of being appended twice.
import { BrokerError, ErrorCode } from '../../lib/errors.js';

/** Batches remembered per producer and partition (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN). */
export const PRODUCER_BATCHES_REMEMBERED = 5;
/** Producers remembered per partition before the oldest are forgotten. */
const PRODUCERS_PER_PARTITION_MAX = 10_000;

interface BatchEntry {
  epoch: number;
  firstSequence: number;
  lastSequence: number;
  baseOffset: number;
  lastOffset: number;
  /** Set while the batch's append is in flight (pipelined produce requests): its offsets to come. */
  pending: Promise<AppendedRange> | undefined;
}

export interface AppendedRange {
  baseOffset: number;
  lastOffset: number;
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; baseOffset: number; lastOffset: number } | { kind: 'duplicate-pending'; pending: Promise<AppendedRange> };

const lastSequenceOf = (firstSequence: number, recordCount: number): number => (firstSequence + recordCount - 1) | 0;

export class ProducerState {
  /** Per producer, its last batches, oldest first (the last one decides the epoch and next sequence). */
  private readonly producers = new Map<bigint, BatchEntry[]>();

  /**
   * Checks a batch before it is appended. A batch whose first and last sequence match one of the
   * producer's remembered batches of the same epoch is a duplicate. Throws OutOfOrderSequence or
   * InvalidProducerEpoch.
   */
  check(producerId: bigint, epoch: number, baseSequence: number, recordCount: number): SequenceCheck {
    if (producerId < 0n) return { kind: 'append' };
    const batches = this.producers.get(producerId);
    const last = batches?.[batches.length - 1];
    if (!batches || !last || epoch > last.epoch) return { kind: 'append' };
    if (epoch < last.epoch) throw new BrokerError(ErrorCode.InvalidProducerEpoch, `producer ${producerId} epoch ${epoch} is older than ${last.epoch}`);
    const lastSequence = lastSequenceOf(baseSequence, recordCount);
    for (let i = batches.length - 1; i >= 0; i--) {
      const b = batches[i]!;
      if (b.epoch !== epoch || b.firstSequence !== baseSequence || b.lastSequence !== lastSequence) continue;
      return b.pending ? { kind: 'duplicate-pending', pending: b.pending } : { kind: 'duplicate', baseOffset: b.baseOffset, lastOffset: b.lastOffset };
    }
    if (baseSequence !== ((last.lastSequence + 1) | 0) && !(last.lastSequence === 0x7fffffff && baseSequence === 0)) {
      throw new BrokerError(ErrorCode.OutOfOrderSequence, `producer ${producerId}: expected sequence ${(last.lastSequence + 1) | 0}, got ${baseSequence}`);
    }
    return { kind: 'append' };
  }

  /**
   * Records a batch whose append has started, so that the next batch of the same producer (pipelined on
   * the connection) is checked against it before this one is written. Returns a function that settles the
   * entry: with the offsets once written, or undefined if the append failed (the batch is forgotten, so
   * that after failed appends the producer's retry is checked against the last batch that was stored).
   */
  begin(producerId: bigint, epoch: number, baseSequence: number, recordCount: number, appended: Promise<AppendedRange>): (r: AppendedRange | undefined) => void {
    const entry: BatchEntry = { epoch, firstSequence: baseSequence, lastSequence: lastSequenceOf(baseSequence, recordCount), baseOffset: -1, lastOffset: -1, pending: appended };
    this.push(producerId, entry);
    return (r) => {
      if (r) {
        entry.baseOffset = r.baseOffset;
        entry.lastOffset = r.lastOffset;
        entry.pending = undefined;
        return;
      }
      const batches = this.producers.get(producerId);
      if (!batches) return;
      const i = batches.indexOf(entry);
      if (i < 0) return;
      batches.splice(i, 1);
      if (batches.length === 0) this.producers.delete(producerId);
    };
  }

  /** Records an appended batch (used when the state is rebuilt from the log). */
  record(producerId: bigint, epoch: number, baseSequence: number, recordCount: number, baseOffset: number, lastOffset: number): void {
    if (producerId < 0n) return;
    this.push(producerId, { epoch, firstSequence: baseSequence, lastSequence: lastSequenceOf(baseSequence, recordCount), baseOffset, lastOffset, pending: undefined });
  }

  private push(producerId: bigint, entry: BatchEntry): void {
    let batches = this.producers.get(producerId);
    if (!batches) {
      if (this.producers.size >= PRODUCERS_PER_PARTITION_MAX) this.producers.delete(this.producers.keys().next().value!);
      this.producers.set(producerId, (batches = []));
    }
    batches.push(entry);
    if (batches.length > PRODUCER_BATCHES_REMEMBERED) batches.shift();
  }
}
