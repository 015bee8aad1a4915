// Resource alarms (RabbitMQ's disk and memory alarms): while free disk space under the data dir is below the
// limit, or the process's resident memory is above the watermark, publishers of every protocol are held
// (AMQP connection.blocked; Kafka Produce delayed, see core/resource-alarms.ts) and /api/health answers 503
// naming the alarm; the alarm clears when the resource recovers.
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { childLogger } from '../lib/logger.js';
import type { ResourceAlarms } from '../core/resource-alarms.js';

const log = childLogger('alarm');

export interface ResourceMonitorOptions {
  dataDir: string;
  diskFreeLimitBytes: number;
  memoryHighWatermark: number;
  /** Called with the alarm's reason when one starts, undefined when all clear. */
  onChange(reason: string | undefined): void;
  /** Each alarm (disk, memory) is raised and cleared here on its own, for every protocol and for health. */
  alarms?: ResourceAlarms;
  intervalMs?: number;
  /** For tests: replaces the measurements. */
  measure?: () => Promise<{ diskFreeBytes: number; rssBytes: number }>;
}

export class ResourceMonitor {
  private timer: NodeJS.Timeout | undefined;
  private current: string | undefined;
  private checking = false;

  private readonly opts: ResourceMonitorOptions;

  constructor(opts: ResourceMonitorOptions) {
    this.opts = { ...opts };
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Changes the limits at run time (as `rabbitmqctl set_disk_free_limit` does) and re-checks. */
  setLimits(limits: { diskFreeLimitBytes?: number; memoryHighWatermark?: number }): Promise<void> {
    Object.assign(this.opts, limits);
    return this.check();
  }

  get alarm(): string | undefined {
    return this.current;
  }

  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const m = this.opts.measure ? await this.opts.measure() : await measure(this.opts.dataDir);
      const memLimit = this.opts.memoryHighWatermark * totalmem();
      const disk = m.diskFreeBytes < this.opts.diskFreeLimitBytes;
      const memory = m.rssBytes > memLimit;
      this.opts.alarms?.set('disk', disk);
      this.opts.alarms?.set('memory', memory);
      const reason = disk ? 'disk' : memory ? 'memory' : undefined;
      if (reason !== this.current) {
        if (reason) log.warn({ resource: reason, diskFreeBytes: m.diskFreeBytes, rssBytes: m.rssBytes }, 'resource alarm set; publishers blocked');
        else log.info({ resource: this.current }, 'resource alarm cleared');
        this.current = reason;
        this.opts.onChange(reason === undefined ? undefined : reason === 'disk' ? 'low on disk' : 'low on memory');
      }
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'resource check failed');
    } finally {
      this.checking = false;
    }
  }
}

async function measure(dir: string): Promise<{ diskFreeBytes: number; rssBytes: number }> {
  const s = await statfs(dir);
  return { diskFreeBytes: s.bavail * s.bsize, rssBytes: process.memoryUsage.rss() };
}
