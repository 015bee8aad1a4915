// Persistent settlement state of one queue (design.md §2, §3): which offsets are settled (acked,
// dead-lettered, expired, dropped) and how often unsettled ones were delivered. Stored compactly as
// ranges in a per-queue append-only state log, compacted (snapshot + truncate) from time to time.
// Never lossy: an offset recorded as settled is never reported unsettled after reopen.
import type { StorageError } from '../../lib/errors.js';

export interface SettlementState {
  /** Lowest offset that is not settled (every offset below it is settled). */
  readonly lowWatermark: number;
  isSettled(offset: number): boolean;
  /** Times this offset was delivered (0 if never), as persisted. */
  deliveryCount(offset: number): number;
  /**
   * Every offset below this may have been delivered before the queue was last closed or crashed (as found
   * at open; 0 if nothing is known). Unsettled ones come back flagged redelivered.
   */
  readonly deliveredMark: number;
  /** Settled ranges at or above lowWatermark, as [start, endExclusive) pairs in ascending order. */
  settledRanges(): Array<[number, number]>;
  /** Number of settled offsets at or above lowWatermark. */
  readonly settledAboveLowWatermark: number;
}

export interface SettlementLogApi extends SettlementState {
  /** Marks offsets settled. Buffered; written by the next flush (at the latest, a few ms later). */
  settle(offset: number): void;
  /** Marks [start, endExclusive) settled (e.g. a purge, or a prefix dropped by max-length). */
  settleRange(start: number, endExclusive: number): void;
  /** Records one more delivery of `offset`. Buffered like settle. */
  markDelivered(offset: number): void;
  /**
   * The journal write that failed last, while no later one has succeeded: the settlements stay buffered
   * and are retried (every second, and at each flush) until the fault clears.
   */
  readonly failed: StorageError | undefined;
  /**
   * Persists "offsets below `mark` may have been delivered"; resolves once written (fsync'd under always).
   * The caller delivers an offset only below a mark whose write has resolved.
   */
  writeDeliveredMark(mark: number): Promise<void>;
  /** Resolves when everything buffered so far is written (and fsync'd when the policy asks). */
  flush(): Promise<void>;
  /** Rewrites the state compactly (snapshot) and drops the old journal. Called automatically past a size bound. */
  compact(): Promise<void>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}
