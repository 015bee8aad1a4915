// Producer ids for idempotent Kafka producers (InitProducerId): unique across connections and restarts.
// Ids are handed out from a block reserved durably in the MetaStore (the block's end is persisted before
// any id of it is given out), so after a restart the next block starts past every id given out before.
// Allocation is serialized: concurrent callers never reserve the same block or share an id.
import type { MetaStore } from '../storage/meta/meta-store.js';

/** Ids reserved per MetaStore write. */
export const PRODUCER_ID_BLOCK = 1000;
const META_KEY = 'producer-id-block';

export class ProducerIdAllocator {
  private next = 0;
  private limit = 0;
  /** The reservation of the next block, while one is being written. */
  private reserving: Promise<void> | undefined;

  constructor(private readonly meta: MetaStore) {}

  async allocate(): Promise<bigint> {
    // Every caller that finds the block used up waits for one reservation, then takes its id in turn
    // (the loop: a block may be used up again by the callers that woke before it).
    while (this.next >= this.limit) {
      this.reserving ??= this.reserve().finally(() => (this.reserving = undefined));
      await this.reserving;
    }
    return BigInt(this.next++);
  }

  private async reserve(): Promise<void> {
    const rec = this.meta.get('setting', META_KEY);
    const start = Math.max(rec ? Number(rec.value['end']) : 0, this.limit);
    const end = start + PRODUCER_ID_BLOCK;
    await this.meta.put({ kind: 'setting', key: META_KEY, value: { end } });
    this.next = start;
    this.limit = end;
  }
}
