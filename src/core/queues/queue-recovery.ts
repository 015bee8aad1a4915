// Queue recovery at open: every unsettled record from the settlement low watermark on becomes ready again.
// Only the few properties the ready index needs are read from each record (message-peek.ts), not the whole
// message. Transient messages (persistent=false, AMQP delivery-mode 1) do not survive a restart of a durable
// classic queue, as in RabbitMQ: they are settled here instead. Quorum queues keep every message (RabbitMQ
// quorum queues store all messages durably whatever their delivery mode).
import type { Logger } from '../../lib/logger.js';
import type { PartitionLog } from '../../storage/log/types.js';
import type { SettlementLogApi } from '../../storage/queue-state/types.js';
import { peekProperties, type PeekedProperties } from '../message-peek.js';
import type { ReadyIndex } from './ready-index.js';

/** Recovery logs progress every this many records. */
const RECOVERY_PROGRESS_RECORDS = 1_000_000;
const READ_RECORDS_MAX = 100_000;
const READ_BYTES_MAX = 4 * 1024 * 1024;

export interface RecoveryOptions {
  vhost: string;
  name: string;
  /** Settle transient (persistent=false) records instead of making them ready. */
  dropTransient: boolean;
  /** Absolute expiry (0 = none) of a record enqueued at `enqueuedAt` with per-message TTL `expirationMs`. */
  expiryAt(expirationMs: number | undefined, enqueuedAt: number): number;
  logger: Logger;
}

/** Fills `ready` from the log; returns how many transient records were dropped. */
export async function recoverReady(log: PartitionLog, state: SettlementLogApi, ready: ReadyIndex, opts: RecoveryOptions): Promise<number> {
  let o = Math.max(state.lowWatermark, log.logStartOffset);
  const start = o;
  const end = log.nextOffset;
  const startedAt = Date.now();
  let nextReport = start + RECOVERY_PROGRESS_RECORDS;
  let dropped = 0;
  const p: PeekedProperties = { priority: 0, expirationMs: undefined, persistent: undefined };
  while (o < end) {
    if (o >= nextReport) {
      opts.logger.info({ queue: opts.name, vhost: opts.vhost, done: o - start, total: end - start }, 'recovering queue');
      nextReport += RECOVERY_PROGRESS_RECORDS;
    }
    const records = await log.readRecords(o, READ_RECORDS_MAX, READ_BYTES_MAX);
    if (records.length === 0) break;
    for (const r of records) {
      o = r.offset + 1;
      if (state.isSettled(r.offset)) continue;
      peekProperties(r, p);
      if (opts.dropTransient && p.persistent === false) {
        state.settle(r.offset);
        dropped++;
        continue;
      }
      const size = (r.value?.length ?? 0) + (r.key?.length ?? 0);
      ready.push(r.offset, size, p.priority, opts.expiryAt(p.expirationMs, r.timestamp), state.deliveryCount(r.offset));
    }
  }
  if (dropped > 0) opts.logger.info({ queue: opts.name, vhost: opts.vhost, dropped }, 'transient messages dropped at restart');
  if (end - start >= RECOVERY_PROGRESS_RECORDS) {
    opts.logger.info({ queue: opts.name, vhost: opts.vhost, records: end - start, ready: ready.length, ms: Date.now() - startedAt }, 'queue recovered');
  }
  return dropped;
}
