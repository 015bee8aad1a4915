// Before a queue hands out an offset, "every offset below M may have been delivered" must be durable for some
// M above it (SettlementLogApi.writeDeliveredMark), so that after a crash every unsettled message that may
// have reached a consumer comes back flagged redelivered. The mark is reserved ahead in chunks: one small
// write per RESERVE_CHUNK offsets, started in the background when delivery gets within half a chunk of the
// durable mark; delivery waits only when it catches up with a write still in flight.
import type { Logger } from '../../lib/logger.js';
import type { SettlementLogApi } from '../../storage/queue-state/types.js';

/** Offsets reserved per delivered-mark write (what a crash may over-flag as redelivered, at most). */
export const RESERVE_CHUNK = 16_384;

export class DeliveryReservation {
  /** Offsets below this may be delivered now: a mark at least this high is durable. */
  private durable: number;
  private pending: Promise<void> | undefined;

  /**
   * `recovered`: offsets below it may have been delivered before this open (the durable mark found, capped
   * at the log's end: later offsets did not exist yet).
   */
  constructor(
    private readonly state: SettlementLogApi,
    readonly recovered: number,
    private readonly logger: Logger,
    /** false for a queue that does not outlive a restart: nothing to reserve. */
    persisted = true,
  ) {
    this.durable = persisted ? recovered : Infinity;
  }

  /**
   * Call before delivering offsets up to `maxOffset`: undefined when they may go at once, else a promise to
   * await before calling again.
   */
  before(maxOffset: number): Promise<void> | undefined {
    if (maxOffset + RESERVE_CHUNK / 2 < this.durable) return undefined;
    if (this.pending === undefined) this.reserve(maxOffset + RESERVE_CHUNK);
    return maxOffset < this.durable ? undefined : this.pending;
  }

  private reserve(mark: number): void {
    const p = this.state.writeDeliveredMark(mark).then(
      () => {
        if (mark > this.durable) this.durable = mark;
        this.pending = undefined;
      },
      (err: Error) => {
        this.pending = undefined;
        throw err;
      },
    );
    // A reservation nobody waits for yet must not become an unhandled rejection; a waiter gets the error.
    p.catch((err: Error) => this.logger.warn({ err: err.message }, 'delivered mark write failed'));
    this.pending = p;
  }
}
