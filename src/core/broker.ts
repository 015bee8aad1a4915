// The Broker facade (design.md §7): the protocol-neutral entry point every protocol calls. It owns the
// vhosts (exchanges, queues, streams, consumer groups), users and the MetaStore that persists their
// definitions. Protocols never reach storage themselves.
import { childLogger } from '../lib/logger.js';
import { BrokerError, ErrorCode } from '../lib/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';
import type { FileSystem } from '../storage/fs/file-system.js';
import { NodeFileSystem } from '../storage/fs/node-fs.js';
import { lockDataDir, metaDir, openDataDir, vhostDir } from '../storage/data-dir.js';
import { LocalMetaStore } from '../storage/meta/local-meta-store.js';
import type { MetaStore } from '../storage/meta/meta-store.js';
import type { FsyncPolicy } from '../storage/log/types.js';
import type { FieldTable, Message } from './message.js';
import { FilePartitionLog } from '../storage/log/partition-log.js';
import { joinPath, type FileLock } from '../storage/fs/file-system.js';
import type { Stream, StreamConfig } from './streams/stream.js';
import type { GroupCoordinator } from './groups/group-coordinator.js';
import { openGroupCoordinator, type GroupLimits } from './groups/open-coordinator.js';
import type { DeadLetterSink, PublishOutcome, Queue } from './queues/queue.js';
import { QueuesAndStreams, removalOps, type QueueDeclareOptions, type QueueDeleteOptions } from './lifecycle.js';
import { UserStore } from './auth/user-store.js';
import { ProducerIdAllocator } from './producer-ids.js';
import { DEFAULT_VHOST, Vhost } from './vhost.js';
import {
  bindingMetaRecord,
  exchangeMetaRecord,
  type RemovalResult,
  type RegistryDefinitions,
  type ExchangeDefinition,
  type BindingDefinition,
} from './routing/exchange-registry.js';
import type { Exchange, ExchangeOptions } from './routing/exchange.js';
import type { DestinationKind } from './routing/destination.js';

export interface BrokerOptions {
  dataDir: string;
  fs?: FileSystem;
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  clock?: Clock;
  /** group.initial.rebalance.delay.ms (default 3000, as Kafka). */
  groupInitialRebalanceDelayMs?: number;
  /** Consumer-group limits (session timeouts, offsets retention, compaction); defaults as GROUP_DEFAULTS. */
  groups?: GroupLimits;
}

export interface BrokerHealth {
  status: 'ok' | 'stopping';
  uptimeMs: number;
  vhosts: number;
}

export class Broker {
  private readonly log = childLogger('broker');
  private readonly vhosts = new Map<string, Vhost>();
  /** The queues and streams of every vhost and their definition changes (lifecycle.ts). */
  private readonly destinations: QueuesAndStreams;
  /** Queues by vhost then name. */
  private readonly queues: Map<string, Map<string, Queue>>;
  /** Streams by vhost then name. */
  private readonly streams: Map<string, Map<string, Stream>>;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly coordinators = new Map<string, GroupCoordinator>();
  readonly deadLetterSink: DeadLetterSink = {
    deadLetter: async (queue, messages, exchange, routingKey) => {
      if (!this.vhosts.get(queue.vhost)?.exchanges.lookup(exchange)) return; // RabbitMQ drops when the DLX is missing
      const routed = messages.map((m) => ({ ...m, exchange, routingKey: routingKey ?? m.routingKey ?? '' }));
      await this.publish(queue.vhost, exchange, routed, { skipQueue: queue.name });
    },
  };
  private stopping = false;
  private closed = false;
  private readonly startedAt: number;

  private constructor(
    readonly options: Required<Omit<BrokerOptions, 'fs'>> & { fs: FileSystem },
    readonly meta: MetaStore,
    readonly users: UserStore,
    private readonly dataDirLock: FileLock,
  ) {
    this.startedAt = options.clock.nowMs();
    this.destinations = new QueuesAndStreams(options, meta, this);
    this.queues = this.destinations.queues;
    this.streams = this.destinations.streams;
  }

  /** Opens the broker on its data dir, whose OS lock it takes before reading or changing anything there. */
  static async open(opts: BrokerOptions): Promise<Broker> {
    const fs = opts.fs ?? new NodeFileSystem();
    const lock = await lockDataDir(fs, opts.dataDir);
    let meta: MetaStore;
    try {
      await openDataDir(fs, opts.dataDir);
      meta = await LocalMetaStore.open(fs, metaDir(opts.dataDir));
    } catch (err) {
      await lock.release();
      throw err;
    }
    const users = new UserStore(meta);
    const broker = new Broker(
      {
        dataDir: opts.dataDir,
        fs,
        fsync: opts.fsync ?? 'always',
        fsyncIntervalMs: opts.fsyncIntervalMs ?? 200,
        clock: opts.clock ?? systemClock,
        groupInitialRebalanceDelayMs: opts.groupInitialRebalanceDelayMs ?? 3000,
        groups: opts.groups ?? {},
      },
      meta,
      users,
      lock,
    );
    try {
      await broker.restore();
    } catch (err) {
      await broker.closeQueuesAndStreams();
      await meta.close();
      await lock.release();
      throw err;
    }
    return broker;
  }

  /** First start: the default vhost and guest/guest (loopback only), as RabbitMQ does. Then definitions. */
  private async restore(): Promise<void> {
    if (this.meta.list('vhost').length === 0 && this.meta.list('user').length === 0) {
      await this.meta.put({ kind: 'vhost', key: DEFAULT_VHOST, value: { name: DEFAULT_VHOST } });
      await this.users.put('guest', 'guest', { tags: ['administrator'], loopbackOnly: true });
      await this.users.setPermission('guest', DEFAULT_VHOST, { configure: '.*', write: '.*', read: '.*' });
    }
    for (const r of this.meta.list('vhost')) this.vhosts.set(r.key, new Vhost(r.key));
    const byVhost = new Map<string, RegistryDefinitions>();
    const defsOf = (v: string) => {
      let d = byVhost.get(v);
      if (!d) byVhost.set(v, (d = { exchanges: [], bindings: [] }));
      return d;
    };
    for (const r of this.meta.list('exchange')) {
      const d = r.value as unknown as ExchangeDefinition;
      defsOf(d.vhost).exchanges.push(d);
    }
    for (const r of this.meta.list('binding')) {
      const d = r.value as unknown as BindingDefinition;
      defsOf(d.vhost).bindings.push(d);
    }
    await this.restoreQueuesAndStreams();
    for (const [name, defs] of byVhost) {
      const vhost = this.vhosts.get(name);
      if (!vhost) {
        this.log.warn({ vhost: name }, 'definitions of an unknown vhost ignored');
        continue;
      }
      const { skippedBindings } = vhost.exchanges.restore(defs);
      if (skippedBindings.length > 0) this.log.warn({ vhost: name, count: skippedBindings.length }, 'bindings to missing destinations dropped');
    }
  }

  /**
   * Re-opens the consumer groups, streams and durable queues; removes the data of queues that were not
   * durable (RabbitMQ drops them on restart) and of deleted incarnations (lifecycle.ts).
   */
  private async restoreQueuesAndStreams(): Promise<void> {
    for (const v of this.vhosts.keys()) await this.openCoordinator(v);
    await this.destinations.restore([...this.vhosts.keys()], !this.meta.repairedTail);
    this.retentionTimer = setInterval(() => void this.enforceRetention(), RETENTION_CHECK_MS);
    this.retentionTimer.unref();
  }

  // ---- vhosts --------------------------------------------------------------------------------------------

  vhost(name: string): Vhost {
    const v = this.vhosts.get(name);
    if (!v) throw new BrokerError(ErrorCode.NotFound, `no vhost '${name}'`);
    return v;
  }

  hasVhost(name: string): boolean {
    return this.vhosts.has(name);
  }

  listVhosts(): string[] {
    return [...this.vhosts.keys()];
  }

  async createVhost(name: string): Promise<Vhost> {
    this.checkOpen();
    if (name.length === 0 || Buffer.byteLength(name) > 255) throw new BrokerError(ErrorCode.InvalidArgument, 'vhost name must be 1..255 bytes');
    const existing = this.vhosts.get(name);
    if (existing) return existing;
    await this.meta.put({ kind: 'vhost', key: name, value: { name } });
    const v = new Vhost(name);
    this.vhosts.set(name, v);
    await this.openCoordinator(name);
    return v;
  }

  // ---- exchanges and bindings ------------------------------------------------------------------------------

  async declareExchange(vhost: string, name: string, type: string, opts: ExchangeOptions = {}): Promise<Exchange> {
    this.checkOpen();
    const v = this.vhost(vhost);
    const { exchange, created } = v.exchanges.declare(name, type, opts);
    if (created && exchange.durable) {
      try {
        await this.meta.put(exchangeMetaRecord(v.exchanges.exchangeDefinition(exchange)));
      } catch (err) {
        v.exchanges.delete(name);
        throw err;
      }
    }
    return exchange;
  }

  async deleteExchange(vhost: string, name: string, opts: { ifUnused?: boolean } = {}): Promise<void> {
    this.checkOpen();
    const v = this.vhost(vhost);
    const removal = v.exchanges.delete(name, opts);
    await this.persistRemoval(vhost, removal, [name]);
  }

  async bind(vhost: string, source: string, destination: { kind: DestinationKind; name: string }, routingKey = '', args: FieldTable = []): Promise<void> {
    this.checkOpen();
    const v = this.vhost(vhost);
    const added = v.exchanges.bind(source, destination, routingKey, args);
    if (!added) return;
    const binding = v.exchanges.listBindings({ source, destination }).find((b) => b.routingKey === routingKey && sameArgs(b.arguments, args));
    if (binding && this.isDurableBinding(v, source, destination)) {
      await this.meta.put(bindingMetaRecord(v.exchanges.bindingDefinition(binding)));
    }
  }

  async unbind(vhost: string, source: string, destination: { kind: DestinationKind; name: string }, routingKey = '', args: FieldTable = []): Promise<void> {
    this.checkOpen();
    const v = this.vhost(vhost);
    await this.persistRemoval(vhost, v.exchanges.unbind(source, destination, routingKey, args), []);
  }

  private isDurableBinding(v: Vhost, source: string, destination: { kind: DestinationKind; name: string }): boolean {
    const src = v.exchanges.lookup(source);
    if (!src?.durable) return false;
    if (destination.kind === 'exchange') return v.exchanges.lookup(destination.name)?.durable ?? false;
    return this.isDurableQueueOrStream(v.name, destination.name);
  }

  private isDurableQueueOrStream(vhost: string, name: string): boolean {
    if (this.streams.get(vhost)?.has(name)) return true;
    return this.queues.get(vhost)?.get(name)?.durable ?? false;
  }

  // ---- idempotent producers -----------------------------------------------------------------------------

  private producerIds: ProducerIdAllocator | undefined;

  /** A new producer id, unique across connections and restarts (see producer-ids.ts). */
  allocateProducerId(): Promise<bigint> {
    return (this.producerIds ??= new ProducerIdAllocator(this.meta)).allocate();
  }

  // ---- consumer groups -----------------------------------------------------------------------------------

  private async openCoordinator(vhost: string): Promise<GroupCoordinator> {
    const o = this.options;
    const c = await openGroupCoordinator({ fs: o.fs, dir: joinPath(vhostDir(o.dataDir, vhost), 'internal', CONSUMER_OFFSETS), fsync: o.fsync, fsyncIntervalMs: o.fsyncIntervalMs, clock: o.clock }, { initialRebalanceDelayMs: o.groupInitialRebalanceDelayMs, ...o.groups });
    this.coordinators.set(vhost, c);
    return c;
  }

  /** The consumer-group coordinator of a vhost (Kafka uses the default vhost). */
  groups(vhost: string = DEFAULT_VHOST): GroupCoordinator {
    const c = this.coordinators.get(vhost);
    if (!c) throw new BrokerError(ErrorCode.NotFound, `no vhost '${vhost}'`);
    return c;
  }

  // ---- streams -------------------------------------------------------------------------------------------

  /** Creates a stream (a Kafka topic; an AMQP stream queue). AlreadyExists if the name is taken by a stream or queue. */
  createStream(vhost: string, name: string, config: Partial<StreamConfig> = {}): Promise<Stream> {
    return this.destinations.createStream(vhost, name, config);
  }

  /** The stream of that name, created if there is none (AMQP declare of a stream queue). */
  declareStream(vhost: string, name: string, config: Partial<StreamConfig> = {}): Promise<Stream> {
    return this.destinations.createStream(vhost, name, config, { existingOk: true });
  }

  getStream(vhost: string, name: string): Stream {
    return this.destinations.getStream(vhost, name);
  }

  findStream(vhost: string, name: string): Stream | undefined {
    return this.streams.get(vhost)?.get(name);
  }

  listStreams(vhost: string): Stream[] {
    return [...(this.streams.get(vhost)?.values() ?? [])];
  }

  /** Adds partitions and records the new count. */
  addStreamPartitions(vhost: string, name: string, count: number): Promise<void> {
    return this.destinations.addStreamPartitions(vhost, name, count);
  }

  /** Deletes a stream; NotFound if there is none. Its files are removed in the background. */
  deleteStream(vhost: string, name: string): Promise<void> {
    return this.destinations.deleteStream(vhost, name);
  }

  /** A deleted stream's committed offsets go with it, as Kafka does (called by the lifecycle, under the name's turn). */
  async streamDeleted(vhost: string, name: string): Promise<void> {
    await this.coordinators.get(vhost)?.streamDeleted(name);
  }

  /** Applies retention to every stream; runs on a timer. */
  async enforceRetention(): Promise<number> {
    let n = 0;
    for (const m of this.streams.values()) for (const s of m.values()) n += await s.enforceRetention().catch(() => 0);
    return n;
  }

  // ---- queues --------------------------------------------------------------------------------------------

  getQueue(vhost: string, name: string): Queue {
    const q = this.queues.get(vhost)?.get(name);
    if (!q) throw new BrokerError(ErrorCode.NotFound, `no queue '${name}' in vhost '${vhost}'`);
    return q;
  }

  listQueues(vhost: string): Queue[] {
    return [...(this.queues.get(vhost)?.values() ?? [])];
  }

  /**
   * Declares a queue (RabbitMQ semantics): an empty name gets a server-generated 'amq.gen-…' one; a
   * redeclare must be equivalent (durable, exclusive, auto-delete, arguments) or fails PreconditionFailed;
   * an exclusive queue of another owner is ResourceLocked.
   */
  declareQueue(vhost: string, name: string, opts: QueueDeclareOptions = {}): Promise<Queue> {
    return this.destinations.declareQueue(vhost, name, opts);
  }

  /** Deletes a queue; returns the number of ready messages it held. Its files are removed in the background. */
  deleteQueue(vhost: string, name: string, opts: QueueDeleteOptions = {}): Promise<number> {
    return this.destinations.deleteQueue(vhost, name, opts);
  }

  /** Deletes the queue or the stream of that name (AMQP queue.delete); the ready count of a queue. */
  deleteQueueOrStream(vhost: string, name: string, opts: QueueDeleteOptions = {}): Promise<number> {
    return this.destinations.deleteQueueOrStream(vhost, name, opts);
  }

  /** Deletes the exclusive queues of a connection that closed. */
  deleteExclusiveQueues(owner: string): Promise<void> {
    return this.destinations.deleteExclusiveQueues(owner);
  }

  // ---- publish -------------------------------------------------------------------------------------------

  /**
   * Routes messages through an exchange (each by its own routingKey and headers) and stores them in every
   * queue they reach, one append per queue. Per message: the number of queues it reached (0 = unroutable,
   * for mandatory) or the first error (e.g. a full reject-publish queue). onCongested is called for each
   * queue reached whose delivery is behind (credit flow): the publisher should pause until it resolves.
   */
  async publish(vhost: string, exchange: string, messages: readonly Message[], opts: { skipQueue?: string; onCongested?: (drained: Promise<void>) => void } = {}): Promise<PublishResult[]> {
    this.checkOpen();
    const v = this.vhost(vhost);
    const x = v.exchanges.lookup(exchange);
    if (!x) throw new BrokerError(ErrorCode.NotFound, `no exchange '${exchange}' in vhost '${vhost}'`);
    const results: PublishResult[] = messages.map(() => ({ routedQueues: 0 }));
    const perQueue = new Map<Queue, { msgs: Message[]; idx: number[] }>();
    const perStream = new Map<Stream, { msgs: Message[]; idx: number[] }>();
    const qs = this.queues.get(vhost);
    const ss = this.streams.get(vhost);
    // Consecutive messages with the same routing key (and no headers) go where the previous one went: the
    // groups it was added to are remembered instead of routing again.
    let memoKey: string | undefined;
    const memoGroups: Array<{ msgs: Message[]; idx: number[] }> = [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const key = m.routingKey ?? '';
      const headers = m.properties.headers;
      if (headers === undefined && key === memoKey) {
        if (memoGroups.length === 0) continue;
        const stamped = m.exchange === undefined ? { ...m, exchange } : m;
        for (const g of memoGroups) {
          g.msgs.push(stamped);
          g.idx.push(i);
        }
        continue;
      }
      memoKey = headers === undefined ? key : undefined;
      memoGroups.length = 0;
      const route = v.exchanges.route(exchange, key, headers);
      for (const d of route.destinations) {
        if (d.name === opts.skipQueue) continue;
        const stamped = m.exchange === undefined ? { ...m, exchange } : m;
        if (d.kind === 'stream') {
          const st = ss?.get(d.name);
          if (st) memoGroups.push(addTo(perStream, st, stamped, i));
        } else if (d.kind === 'queue') {
          const q = qs?.get(d.name);
          if (q) memoGroups.push(addTo(perQueue, q, stamped, i));
        }
      }
    }
    await Promise.all([
      ...[...perQueue].map(async ([q, { msgs, idx }]) => {
        const transient = !q.durable || msgs.every((m) => m.properties.persistent === false);
        const stored = q.publish(msgs, { durable: !transient });
        // Credit flow is decided now, before the append completes, so that a publisher is held before more
        // of its socket is read.
        if (opts.onCongested && q.congested) opts.onCongested(q.whenDecongested());
        const outcomes: PublishOutcome[] = await stored;
        outcomes.forEach((o, k) => {
          const r = results[idx[k]!]!;
          if (o.ok) r.routedQueues++;
          else r.error ??= o.error;
        });
      }),
      ...[...perStream].map(async ([st, { msgs, idx }]) => {
        await st.appendMessages(msgs);
        for (const i of idx) results[i]!.routedQueues++;
      }),
    ]);
    return results;
  }

  private async persistRemoval(vhost: string, removal: RemovalResult, exchanges: string[]): Promise<void> {
    const ops = removalOps(this.meta, this.vhost(vhost), removal, exchanges);
    if (ops.length > 0) await this.meta.apply(ops);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  health(): BrokerHealth {
    return { status: this.stopping || this.closed ? 'stopping' : 'ok', uptimeMs: this.options.clock.nowMs() - this.startedAt, vhosts: this.vhosts.size };
  }

  /** Health turns 503 and new work is refused; in-flight work continues until close(). */
  beginShutdown(): void {
    this.stopping = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    this.closed = true;
    await this.closeQueuesAndStreams();
    await this.meta.close();
    await this.dataDirLock.release();
  }

  private async closeQueuesAndStreams(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.allSettled([...this.coordinators.values()].map((c) => c.close()));
    this.coordinators.clear();
    await this.destinations.close();
  }

  checkOpen(): void {
    if (this.closed || this.stopping) throw new BrokerError(ErrorCode.Closed, 'broker is shutting down');
  }
}

/** How often stream retention is applied. */
const RETENTION_CHECK_MS = 60_000;
/** The internal log of committed consumer-group offsets, one per vhost. */
export const CONSUMER_OFFSETS = '__consumer_offsets';

export type { QueueDefinition } from './lifecycle.js';

export interface PublishResult {
  /** Queues the message was stored in. */
  routedQueues: number;
  error?: BrokerError;
}

/** Groups messages (with their index in the publish) by destination. */
function addTo<K>(groups: Map<K, { msgs: Message[]; idx: number[] }>, key: K, m: Message, i: number): { msgs: Message[]; idx: number[] } {
  let g = groups.get(key);
  if (!g) groups.set(key, (g = { msgs: [], idx: [] }));
  g.msgs.push(m);
  g.idx.push(i);
  return g;
}

function sameArgs(a: FieldTable, b: FieldTable): boolean {
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
