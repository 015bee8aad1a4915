// The queues and streams of every vhost, and their lifecycle (issue 9): every definition change of one name
// (declare, delete, re-create, exclusive-owner close, auto-delete, x-expires, partitions added) is serialized
// per (vhost, name) through NameLocks; each incarnation of a name has its own storage directory (its id is in
// the definition); a deletion makes the name free at once and removes its files in the background (moved to
// the data dir's trash with one rename, then removed), so that it never touches a newer incarnation.
import { randomBytes } from 'node:crypto';
import { childLogger } from '../lib/logger.js';
import { BrokerError, ErrorCode } from '../lib/errors.js';
import type { Clock } from '../lib/clock.js';
import type { FileSystem } from '../storage/fs/file-system.js';
import { joinPath } from '../storage/fs/file-system.js';
import type { MetaOp, MetaStore } from '../storage/meta/meta-store.js';
import type { FsyncPolicy } from '../storage/log/types.js';
import { FilePartitionLog } from '../storage/log/partition-log.js';
import { SettlementLog } from '../storage/queue-state/settlement-log.js';
import {
  isIncarnationId,
  moveToTrash,
  newIncarnationId,
  queueDir,
  queuesDir,
  streamDir,
  streamPartitionDir,
  streamsDir,
  transientQueueDir,
  transientQueuesDir,
  trashDir,
} from '../storage/data-dir.js';
import { defaultStreamConfig, Stream, type StreamConfig } from './streams/stream.js';
import { Queue, type DeadLetterSink, type QueueArguments } from './queues/queue.js';
import { bindingMetaKey, exchangeMetaKey, type RemovalResult } from './routing/exchange-registry.js';
import type { Vhost } from './vhost.js';
import { nameKey, NameLocks } from './name-locks.js';

export interface QueueDefinition {
  vhost: string;
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusiveOwner: string | undefined;
  arguments: QueueArguments;
  /** The id of this incarnation of the name (its storage directory); absent in definitions of the old layout. */
  incarnation?: string;
}

export interface QueueDeclareOptions {
  durable?: boolean;
  exclusiveOwner?: string;
  autoDelete?: boolean;
  arguments?: QueueArguments;
}

export interface QueueDeleteOptions {
  ifUnused?: boolean;
  ifEmpty?: boolean;
  /** The connection asking: a queue exclusive to another one is ResourceLocked. */
  owner?: string;
  /** Delete only this incarnation (auto-delete, x-expires, exclusive owner gone); a newer one is left alone. */
  only?: Queue;
}

export interface LifecycleOptions {
  dataDir: string;
  fs: FileSystem;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  clock: Clock;
}

/** What the lifecycle needs of the broker. */
export interface LifecycleHost {
  vhost(name: string): Vhost;
  /** Throws Closed while the broker shuts down. */
  checkOpen(): void;
  readonly deadLetterSink: DeadLetterSink;
  /** After a stream's deletion is recorded, before a new incarnation of its name can be created. */
  streamDeleted(vhost: string, name: string): Promise<void>;
}

const QUEUE_SEGMENT_BYTES = 64 * 1024 * 1024;

export class QueuesAndStreams {
  private readonly log = childLogger('lifecycle');
  /** Queues by vhost then name. */
  readonly queues = new Map<string, Map<string, Queue>>();
  /** Streams by vhost then name. */
  readonly streams = new Map<string, Map<string, Stream>>();
  /** The storage directory of each open incarnation. */
  private readonly dirs = new WeakMap<Queue | Stream, string>();
  private readonly locks = new NameLocks();
  /** Deleted incarnations whose files are being removed. */
  private readonly removals = new Set<Promise<void>>();
  /** Exclusive declares under way, per owner (a connection id). */
  private readonly declaring = new Map<string, number>();
  /** Owners that closed while one of their exclusive declares was under way: that declare is undone. */
  private readonly goneOwners = new Set<string>();

  constructor(
    private readonly o: LifecycleOptions,
    private readonly meta: MetaStore,
    private readonly host: LifecycleHost,
  ) {}

  // ---- start-up ------------------------------------------------------------------------------------------

  /**
   * Opens every defined stream and queue, each in its incarnation's directory. Then removes what no
   * definition names: the transient queues (never persisted), the trash (in the background) and, unless
   * `trustDefinitions` is false (the metadata journal was repaired at open: a definition may be missing),
   * the directories of queues and streams without a definition.
   */
  async restore(vhosts: readonly string[], trustDefinitions: boolean): Promise<void> {
    const known = new Set<string>();
    for (const r of this.meta.list('stream')) {
      const v = r.value as unknown as { vhost: string; name: string; config: StreamConfig; incarnation?: string };
      if (!vhosts.includes(v.vhost)) continue;
      await this.openStream(v.vhost, v.name, v.config, checkedIncarnation(v.incarnation, v.name), false);
      known.add(streamDir(this.o.dataDir, v.vhost, v.name, v.incarnation));
    }
    for (const r of this.meta.list('queue')) {
      const def = r.value as unknown as QueueDefinition;
      if (!vhosts.includes(def.vhost)) continue;
      const dir = queueDir(this.o.dataDir, def.vhost, def.name, checkedIncarnation(def.incarnation, def.name));
      await this.openQueue(def, dir, false);
      known.add(dir);
    }
    const fs = this.o.fs;
    for (const vhost of vhosts) {
      await fs.rmdir(transientQueuesDir(this.o.dataDir, vhost));
      for (const parent of [queuesDir(this.o.dataDir, vhost), streamsDir(this.o.dataDir, vhost)]) {
        for (const name of await fs.list(parent)) {
          const path = joinPath(parent, name);
          if (known.has(path)) continue;
          if (trustDefinitions) await fs.rmdir(path);
          else this.log.warn({ dir: path }, 'no definition names this directory, but the metadata journal was repaired at start: kept');
        }
      }
    }
    // Entries only: a deletion may move a directory into the trash meanwhile.
    for (const name of await fs.list(trashDir(this.o.dataDir))) this.removeInBackground(joinPath(trashDir(this.o.dataDir), name));
  }

  // ---- queues --------------------------------------------------------------------------------------------

  /**
   * Declares a queue (RabbitMQ semantics): an empty name gets a server-generated 'amq.gen-…' one; a
   * redeclare must be equivalent (durable, exclusive, auto-delete, arguments) or fails PreconditionFailed;
   * an exclusive queue of another owner is ResourceLocked.
   */
  async declareQueue(vhost: string, name: string, opts: QueueDeclareOptions = {}): Promise<Queue> {
    this.host.checkOpen();
    this.host.vhost(vhost);
    const generated = name === '';
    if (generated) name = `amq.gen-${randomBytes(16).toString('base64url')}`;
    if (Buffer.byteLength(name) > 255) throw new BrokerError(ErrorCode.InvalidArgument, 'queue name longer than 255 bytes');
    const owner = opts.exclusiveOwner;
    if (owner === undefined) return this.declareQueueLocked(vhost, name, generated, opts);
    // The owner may close while this declare waits or runs: its exclusive queues are deleted then, and this
    // one, not registered yet, would outlive it and hold the name for a connection that is gone.
    this.declaring.set(owner, (this.declaring.get(owner) ?? 0) + 1);
    try {
      return await this.declareQueueLocked(vhost, name, generated, opts);
    } finally {
      const left = this.declaring.get(owner)! - 1;
      if (left > 0) this.declaring.set(owner, left);
      else {
        this.declaring.delete(owner);
        this.goneOwners.delete(owner);
      }
    }
  }

  private declareQueueLocked(vhost: string, name: string, generated: boolean, opts: QueueDeclareOptions): Promise<Queue> {
    const ownerGone = (): BrokerError => new BrokerError(ErrorCode.Closed, `the connection declaring exclusive queue '${name}' in vhost '${vhost}' closed`);
    return this.locks.run(nameKey(vhost, name), async () => {
      this.host.checkOpen();
      if (opts.exclusiveOwner !== undefined && this.goneOwners.has(opts.exclusiveOwner)) throw ownerGone();
      if (this.streams.get(vhost)?.has(name)) throw new BrokerError(ErrorCode.PreconditionFailed, `inequivalent arg 'x-queue-type' for queue '${name}' in vhost '${vhost}': current is 'stream'`);
      const def: QueueDefinition = { vhost, name, durable: opts.durable ?? false, autoDelete: opts.autoDelete ?? false, exclusiveOwner: opts.exclusiveOwner, arguments: opts.arguments ?? {} };
      const existing = this.queues.get(vhost)?.get(name);
      if (existing) return checkEquivalent(existing, def);
      if (name.startsWith('amq.') && !generated) throw new BrokerError(ErrorCode.AccessRefused, `queue name '${name}' contains reserved prefix 'amq.*'`);
      def.incarnation = newIncarnationId();
      const persisted = def.durable && def.exclusiveOwner === undefined;
      const dir = persisted ? queueDir(this.o.dataDir, vhost, name, def.incarnation) : transientQueueDir(this.o.dataDir, vhost, name, def.incarnation);
      const queue = await this.openQueue(def, dir, true);
      if (def.exclusiveOwner !== undefined && this.goneOwners.has(def.exclusiveOwner)) {
        this.retire(queue, this.unregisterQueue(queue).dir);
        throw ownerGone();
      }
      if (persisted) {
        try {
          await this.meta.put({ kind: 'queue', key: nameKey(vhost, name), value: JSON.parse(JSON.stringify(def)) });
        } catch (err) {
          this.retire(queue, this.unregisterQueue(queue).dir);
          throw err;
        }
      }
      return queue;
    });
  }

  /** Opens a queue in `dir`; a `fresh` incarnation's directory is removed again if it fails to open. */
  private async openQueue(def: QueueDefinition, dir: string, fresh: boolean): Promise<Queue> {
    const o = this.o;
    const fsync = def.durable ? o.fsync : 'never';
    let log: FilePartitionLog | undefined;
    let state: SettlementLog | undefined;
    let queue: Queue;
    try {
      // A transient queue's log is ephemeral (never synced): its directory is removed at the next start.
      log = await FilePartitionLog.open({ fs: o.fs, dir: joinPath(dir, 'log'), fsync, ephemeral: !def.durable, fsyncIntervalMs: o.fsyncIntervalMs, clock: o.clock, segmentBytesMax: QUEUE_SEGMENT_BYTES });
      state = await SettlementLog.open(o.fs, joinPath(dir, 'state'), { fsync });
      queue = await Queue.open({
        vhost: def.vhost,
        name: def.name,
        log,
        state,
        durable: def.durable,
        autoDelete: def.autoDelete,
        exclusiveOwner: def.exclusiveOwner,
        arguments: def.arguments,
        clock: o.clock,
        deadLetterSink: this.host.deadLetterSink,
        onUnused: (q) => void this.deleteQueue(q.vhost, q.name, { only: q }).catch((err: Error) => this.log.warn({ queue: q.name, err: err.message }, 'auto-delete failed')),
      });
    } catch (err) {
      await Promise.allSettled([state?.close(), log?.close()]);
      if (fresh) this.removeInBackground(dir);
      throw err;
    }
    let m = this.queues.get(def.vhost);
    if (!m) this.queues.set(def.vhost, (m = new Map()));
    m.set(def.name, queue);
    this.dirs.set(queue, dir);
    this.host.vhost(def.vhost).exchanges.addQueue(def.name, 'queue', { durable: def.durable });
    return queue;
  }

  /** Deletes a queue; returns the number of ready messages it held. A missing queue is no error (RabbitMQ). */
  async deleteQueue(vhost: string, name: string, opts: QueueDeleteOptions = {}): Promise<number> {
    this.host.checkOpen();
    return this.locks.run(nameKey(vhost, name), async () => this.deleteQueueNow(vhost, name, opts));
  }

  /** Deletes the queue or stream of a name (AMQP queue.delete reaches both); the ready count of a queue. */
  async deleteQueueOrStream(vhost: string, name: string, opts: QueueDeleteOptions = {}): Promise<number> {
    this.host.checkOpen();
    return this.locks.run(nameKey(vhost, name), async () => {
      if (this.streams.get(vhost)?.has(name)) {
        await this.deleteStreamNow(vhost, name);
        return 0;
      }
      return this.deleteQueueNow(vhost, name, opts);
    });
  }

  private async deleteQueueNow(vhost: string, name: string, opts: QueueDeleteOptions): Promise<number> {
    this.host.checkOpen();
    const queue = this.queues.get(vhost)?.get(name);
    if (!queue || (opts.only !== undefined && queue !== opts.only)) return 0;
    if (opts.owner !== undefined && queue.exclusiveOwner !== undefined && queue.exclusiveOwner !== opts.owner) {
      throw new BrokerError(ErrorCode.ResourceLocked, `cannot obtain exclusive access to locked queue '${name}' in vhost '${vhost}'`);
    }
    if (opts.ifUnused && queue.consumerCount > 0) throw new BrokerError(ErrorCode.PreconditionFailed, `queue '${name}' in vhost '${vhost}' in use`);
    if (opts.ifEmpty && queue.messageCount > 0) throw new BrokerError(ErrorCode.PreconditionFailed, `queue '${name}' in vhost '${vhost}' is not empty`);
    const count = queue.messageCount;
    const removal = this.unregisterQueue(queue);
    this.retire(queue, removal.dir);
    const ops = removalOps(this.meta, this.host.vhost(vhost), removal.removal, []);
    const key = nameKey(vhost, name);
    if (this.meta.get('queue', key)) ops.unshift({ op: 'delete', kind: 'queue', key });
    if (ops.length > 0) await this.meta.apply(ops);
    return count;
  }

  /** Deletes the exclusive queues of a connection that closed (each only in the incarnation it owned). */
  async deleteExclusiveQueues(owner: string): Promise<void> {
    if (this.declaring.has(owner)) this.goneOwners.add(owner);
    const mine: Array<Promise<number>> = [];
    for (const m of this.queues.values()) for (const q of m.values()) if (q.exclusiveOwner === owner) mine.push(this.deleteQueue(q.vhost, q.name, { only: q }));
    await Promise.all(mine);
  }

  /** Forgets a queue (maps, routing): from now on its name is free. */
  private unregisterQueue(queue: Queue): { removal: RemovalResult; dir: string } {
    this.queues.get(queue.vhost)?.delete(queue.name);
    return { removal: this.host.vhost(queue.vhost).exchanges.removeQueue(queue.name), dir: this.dirs.get(queue)! };
  }

  // ---- streams -------------------------------------------------------------------------------------------

  /** Opens a stream; a `fresh` incarnation's directory is removed again if it fails to open. */
  private async openStream(vhost: string, name: string, config: StreamConfig, incarnation: string | undefined, fresh: boolean): Promise<Stream> {
    const o = this.o;
    const dir = streamDir(o.dataDir, vhost, name, incarnation);
    let stream: Stream;
    try {
      stream = await Stream.open(
        vhost,
        name,
        config,
        (p, c) =>
          FilePartitionLog.open({
            fs: o.fs,
            dir: streamPartitionDir(o.dataDir, vhost, name, p, incarnation),
            fsync: o.fsync,
            fsyncIntervalMs: o.fsyncIntervalMs,
            clock: o.clock,
            segmentBytesMax: c.segmentBytes,
            retentionMs: c.retentionMs,
            retentionBytes: c.retentionBytes,
          }),
        o.clock,
      );
    } catch (err) {
      if (fresh) this.removeInBackground(dir);
      throw err;
    }
    let m = this.streams.get(vhost);
    if (!m) this.streams.set(vhost, (m = new Map()));
    m.set(name, stream);
    this.dirs.set(stream, dir);
    this.host.vhost(vhost).exchanges.addQueue(name, 'stream', { durable: true });
    return stream;
  }

  /**
   * Creates a stream (a Kafka topic; an AMQP stream queue). AlreadyExists if the name is taken by a queue, or
   * by a stream unless `existingOk` (then that stream is returned).
   */
  async createStream(vhost: string, name: string, config: Partial<StreamConfig> = {}, opts: { existingOk?: boolean } = {}): Promise<Stream> {
    this.host.checkOpen();
    this.host.vhost(vhost);
    if (name.length === 0 || Buffer.byteLength(name) > 249 || name === '.' || name === '..') throw new BrokerError(ErrorCode.InvalidArgument, `invalid stream name '${name}'`);
    return this.locks.run(nameKey(vhost, name), async () => {
      this.host.checkOpen();
      const existing = this.streams.get(vhost)?.get(name);
      if (existing && opts.existingOk) return existing;
      if (opts.existingOk && this.queues.get(vhost)?.has(name)) {
        throw new BrokerError(ErrorCode.PreconditionFailed, `inequivalent arg 'x-queue-type' for queue '${name}' in vhost '${vhost}': received 'stream' but current is 'classic'`);
      }
      if (existing || this.queues.get(vhost)?.has(name)) throw new BrokerError(ErrorCode.AlreadyExists, `stream or queue '${name}' already exists in vhost '${vhost}'`);
      const full: StreamConfig = { ...defaultStreamConfig, ...config };
      const incarnation = newIncarnationId();
      const stream = await this.openStream(vhost, name, full, incarnation, true);
      try {
        await this.meta.put({ kind: 'stream', key: nameKey(vhost, name), value: { vhost, name, config: { ...full }, incarnation } });
      } catch (err) {
        this.retire(stream, this.unregisterStream(stream).dir);
        throw err;
      }
      return stream;
    });
  }

  /** Deletes a stream; NotFound if there is none of that name. */
  async deleteStream(vhost: string, name: string): Promise<void> {
    this.host.checkOpen();
    return this.locks.run(nameKey(vhost, name), () => this.deleteStreamNow(vhost, name));
  }

  private async deleteStreamNow(vhost: string, name: string): Promise<void> {
    this.host.checkOpen();
    const stream = this.getStream(vhost, name);
    const { removal, dir } = this.unregisterStream(stream);
    this.retire(stream, dir);
    const key = nameKey(vhost, name);
    const ops = removalOps(this.meta, this.host.vhost(vhost), removal, []);
    if (this.meta.get('stream', key)) ops.unshift({ op: 'delete', kind: 'stream', key });
    if (ops.length > 0) await this.meta.apply(ops);
    await this.host.streamDeleted(vhost, name);
  }

  /** Adds partitions and records the new count. */
  async addStreamPartitions(vhost: string, name: string, count: number): Promise<void> {
    this.host.checkOpen();
    return this.locks.run(nameKey(vhost, name), async () => {
      this.host.checkOpen();
      const s = this.getStream(vhost, name);
      await s.addPartitions(count);
      const key = nameKey(vhost, name);
      const incarnation = this.meta.get('stream', key)?.value['incarnation'];
      await this.meta.put({ kind: 'stream', key, value: { vhost, name, config: { ...s.config }, ...(typeof incarnation === 'string' ? { incarnation } : {}) } });
    });
  }

  getStream(vhost: string, name: string): Stream {
    const s = this.streams.get(vhost)?.get(name);
    if (!s) throw new BrokerError(ErrorCode.NotFound, `no stream '${name}' in vhost '${vhost}'`);
    return s;
  }

  private unregisterStream(stream: Stream): { removal: RemovalResult; dir: string } {
    this.streams.get(stream.vhost)?.delete(stream.name);
    return { removal: this.host.vhost(stream.vhost).exchanges.removeQueue(stream.name), dir: this.dirs.get(stream)! };
  }

  // ---- removal of files ----------------------------------------------------------------------------------

  /**
   * Ends a deleted incarnation: its consumers are cancelled now (synchronously); its directory is moved to
   * the trash, its files closed and removed in the background. The directory is this incarnation's own, so
   * nothing here can touch a newer incarnation of the name.
   */
  private retire(target: Queue | Stream, dir: string): void {
    const closing = target instanceof Queue ? target.delete() : target.destroy();
    this.track(
      (async () => {
        let trashed: string | undefined;
        try {
          trashed = await moveToTrash(this.o.fs, this.o.dataDir, dir);
        } catch (err) {
          this.log.warn({ dir, err: (err as Error).message }, 'moving a deleted directory to the trash failed; removing it in place');
        }
        await closing.catch((err: Error) => this.log.warn({ name: target.name, err: err.message }, 'closing a deleted queue or stream failed'));
        await this.o.fs.rmdir(trashed ?? dir);
      })(),
      dir,
    );
  }

  private removeInBackground(dir: string): void {
    this.track(this.o.fs.rmdir(dir), dir);
  }

  private track(work: Promise<void>, dir: string): void {
    const done: Promise<void> = work
      .catch((err: Error) => this.log.warn({ dir, err: err.message }, 'removing a deleted directory failed (it is removed at the next start)'))
      .finally(() => this.removals.delete(done));
    this.removals.add(done);
  }

  /** Resolves once every removal started so far has ended (for tests and shutdown). */
  async removalsSettled(): Promise<void> {
    while (this.removals.size > 0) await Promise.allSettled([...this.removals]);
  }

  // ---- shutdown ------------------------------------------------------------------------------------------

  /** Call once new definition changes are refused (the host's checkOpen throws): waits for those under way. */
  async close(): Promise<void> {
    await this.locks.settled();
    for (const m of this.streams.values()) await Promise.allSettled([...m.values()].map((st) => st.close()));
    this.streams.clear();
    for (const m of this.queues.values()) await Promise.allSettled([...m.values()].map((q) => q.close()));
    this.queues.clear();
    await this.removalsSettled();
  }
}

function checkEquivalent(existing: Queue, def: QueueDefinition): Queue {
  const { vhost, name } = def;
  if (existing.exclusiveOwner !== undefined && existing.exclusiveOwner !== def.exclusiveOwner) {
    throw new BrokerError(ErrorCode.ResourceLocked, `cannot obtain exclusive access to locked queue '${name}' in vhost '${vhost}'`);
  }
  const ineq = (what: string, got: unknown, cur: unknown) =>
    new BrokerError(ErrorCode.PreconditionFailed, `inequivalent arg '${what}' for queue '${name}' in vhost '${vhost}': received '${String(got)}' but current is '${String(cur)}'`);
  if (existing.durable !== def.durable) throw ineq('durable', def.durable, existing.durable);
  if (existing.autoDelete !== def.autoDelete) throw ineq('auto_delete', def.autoDelete, existing.autoDelete);
  if ((existing.exclusiveOwner !== undefined) !== (def.exclusiveOwner !== undefined)) throw ineq('exclusive', def.exclusiveOwner !== undefined, existing.exclusiveOwner !== undefined);
  for (const k of new Set([...Object.keys(existing.arguments), ...Object.keys(def.arguments)]) as Set<keyof QueueArguments>) {
    if (existing.arguments[k] !== def.arguments[k]) throw ineq(k, def.arguments[k], existing.arguments[k]);
  }
  return existing;
}

function checkedIncarnation(id: unknown, name: string): string | undefined {
  if (id === undefined) return undefined;
  if (!isIncarnationId(id)) throw new BrokerError(ErrorCode.InvalidArgument, `definition of '${name}' has an invalid incarnation id`);
  return id;
}

/** The metadata deletes for exchanges and bindings a removal took away (only those that are stored). */
export function removalOps(meta: MetaStore, v: Vhost, removal: RemovalResult, exchanges: readonly string[]): MetaOp[] {
  const ops: MetaOp[] = [];
  for (const name of new Set([...exchanges, ...removal.deletedExchanges])) ops.push({ op: 'delete', kind: 'exchange', key: exchangeMetaKey(v.name, name) });
  for (const b of removal.removedBindings) ops.push({ op: 'delete', kind: 'binding', key: bindingMetaKey(v.exchanges.bindingDefinition(b)) });
  return ops.filter((o) => o.op === 'delete' && meta.get(o.kind, o.key) !== undefined);
}
