// Opens a vhost's group coordinator over its internal offsets log (`__consumer_offsets`).
import type { Clock } from '../../lib/clock.js';
import type { FileSystem } from '../../storage/fs/file-system.js';
import { FilePartitionLog } from '../../storage/log/partition-log.js';
import type { FsyncPolicy } from '../../storage/log/types.js';
import { GroupCoordinator, type GroupCoordinatorOptions } from './group-coordinator.js';

/** Segment size of the offsets log: compaction deletes whole segments, so what it leaves behind is at most one. */
export const OFFSETS_SEGMENT_BYTES = 256 * 1024;

export type GroupLimits = Omit<GroupCoordinatorOptions, 'offsetsLog' | 'clock'>;

export async function openGroupCoordinator(
  log: { fs: FileSystem; dir: string; fsync: FsyncPolicy; fsyncIntervalMs: number; clock: Clock },
  limits: GroupLimits,
): Promise<GroupCoordinator> {
  const offsetsLog = await FilePartitionLog.open({ ...log, segmentBytesMax: OFFSETS_SEGMENT_BYTES });
  try {
    return await GroupCoordinator.open({ ...limits, offsetsLog, clock: log.clock });
  } catch (err) {
    await offsetsLog.close().catch(() => undefined);
    throw err;
  }
}
