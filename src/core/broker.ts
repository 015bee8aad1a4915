// The Broker facade (design.md §7): the protocol-neutral entry point every protocol calls. It owns the
// vhosts (exchanges, queues, streams, consumer groups), users and the MetaStore that persists their
// definitions. Protocols never reach storage themselves.
import { randomBytes } from 'node:crypto';
import { childLogger } from '../lib/logger.js';
import { BrokerError, ErrorCode } from '../lib/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';
import type { FileSystem } from '../storage/fs/file-system.js';
import { NodeFileSystem } from '../storage/fs/node-fs.js';
import { metaDir, openDataDir, vhostDir } from '../storage/data-dir.js';
import { LocalMetaStore } from '../storage/meta/local-meta-store.js';
import type { MetaOp, MetaStore } from '../storage/meta/meta-store.js';
import type { FsyncPolicy } from '../storage/log/types.js';
import type { FieldTable, Message } from './message.js';
import { FilePartitionLog } from '../storage/log/partition-log.js';
import { SettlementLog } from '../storage/queue-state/settlement-log.js';
import { joinPath } from '../storage/fs/file-system.js';
import { queueDir, streamPartitionDir, streamDir } from '../storage/data-dir.js';
import { defaultStreamConfig, Stream, type StreamConfig } from './streams/stream.js';
import type { GroupCoordinator } from './groups/group-coordinator.js';
import { openGroupCoordinator, type GroupLimits } from './groups/open-coordinator.js';
import { Queue, type DeadLetterSink, type PublishOutcome, type QueueArguments } from './queues/queue.js';
import { UserStore } from './auth/user-store.js';
import { ProducerIdAllocator } from './producer-ids.js';
import { DEFAULT_VHOST, Vhost } from './vhost.js';
import {
  bindingMetaKey,
  bindingMetaRecord,
  exchangeMetaKey,
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
  /** Queues by vhost then name. */
  private readonly queues = new Map<string, Map<string, Queue>>();
  /** Streams by vhost then name. */
  private readonly streams = new Map<string, Map<string, Stream>>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly coordinators = new Map<string, GroupCoordinator>();
  private readonly deadLetterSink: DeadLetterSink = {
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
  ) {
    this.startedAt = options.clock.nowMs();
  }

  static async open(opts: BrokerOptions): Promise<Broker> {
    const fs = opts.fs ?? new NodeFileSystem();
    await openDataDir(fs, opts.dataDir);
    const meta = await LocalMetaStore.open(fs, metaDir(opts.dataDir));
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
    );
    try {
      await broker.restore();
    } catch (err) {
      await meta.close();
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

  /** Re-opens durable queues; removes the data of queues that were not durable (RabbitMQ drops them on restart). */
  private async restoreQueuesAndStreams(): Promise<void> {
    for (const v of this.vhosts.keys()) await this.openCoordinator(v);
    for (const r of this.meta.list('stream')) {
      const v = r.value as unknown as { vhost: string; name: string; config: StreamConfig };
      if (this.vhosts.has(v.vhost)) await this.openStream(v.vhost, v.name, v.config);
    }
    this.retentionTimer = setInterval(() => void this.enforceRetention(), RETENTION_CHECK_MS);
    this.retentionTimer.unref();
    const known = new Set<string>();
    for (const r of this.meta.list('queue')) {
      const v = r.value as unknown as QueueDefinition;
      if (!this.vhosts.has(v.vhost)) continue;
      await this.openQueue(v);
      known.add(queueDir(this.options.dataDir, v.vhost, v.name));
    }
    for (const vhost of this.vhosts.keys()) {
      const dir = joinPath(vhostDir(this.options.dataDir, vhost), 'queues');
      for (const name of await this.options.fs.list(dir)) {
        const path = joinPath(dir, name);
        if (!known.has(path)) await this.options.fs.rmdir(path);
      }
    }
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

  private async openStream(vhost: string, name: string, config: StreamConfig): Promise<Stream> {
    const o = this.options;
    const stream = await Stream.open(
      vhost,
      name,
      config,
      (p, c) =>
        FilePartitionLog.open({
          fs: o.fs,
          dir: streamPartitionDir(o.dataDir, vhost, name, p),
          fsync: o.fsync,
          fsyncIntervalMs: o.fsyncIntervalMs,
          clock: o.clock,
          segmentBytesMax: c.segmentBytes,
          retentionMs: c.retentionMs,
          retentionBytes: c.retentionBytes,
        }),
      o.clock,
    );
    let m = this.streams.get(vhost);
    if (!m) this.streams.set(vhost, (m = new Map()));
    m.set(name, stream);
    this.vhost(vhost).exchanges.addQueue(name, 'stream', { durable: true });
    return stream;
  }

  /** Creates a stream (a Kafka topic; an AMQP stream queue). AlreadyExists if the name is taken by a stream or queue. */
  async createStream(vhost: string, name: string, config: Partial<StreamConfig> = {}): Promise<Stream> {
    this.checkOpen();
    this.vhost(vhost);
    if (name.length === 0 || Buffer.byteLength(name) > 249 || name === '.' || name === '..') throw new BrokerError(ErrorCode.InvalidArgument, `invalid stream name '${name}'`);
    if (this.streams.get(vhost)?.has(name) || this.queues.get(vhost)?.has(name)) throw new BrokerError(ErrorCode.AlreadyExists, `stream or queue '${name}' already exists in vhost '${vhost}'`);
    const full: StreamConfig = { ...defaultStreamConfig, ...config };
    const stream = await this.openStream(vhost, name, full);
    try {
      await this.meta.put({ kind: 'stream', key: `${vhost}\u0000${name}`, value: { vhost, name, config: { ...full } } });
    } catch (err) {
      await this.dropStream(stream);
      throw err;
    }
    return stream;
  }

  getStream(vhost: string, name: string): Stream {
    const s = this.streams.get(vhost)?.get(name);
    if (!s) throw new BrokerError(ErrorCode.NotFound, `no stream '${name}' in vhost '${vhost}'`);
    return s;
  }

  findStream(vhost: string, name: string): Stream | undefined {
    return this.streams.get(vhost)?.get(name);
  }

  listStreams(vhost: string): Stream[] {
    return [...(this.streams.get(vhost)?.values() ?? [])];
  }

  /** Adds partitions and records the new count. */
  async addStreamPartitions(vhost: string, name: string, count: number): Promise<void> {
    const s = this.getStream(vhost, name);
    await s.addPartitions(count);
    await this.meta.put({ kind: 'stream', key: `${vhost}\u0000${name}`, value: { vhost, name, config: { ...s.config } } });
  }

  private async dropStream(stream: Stream): Promise<RemovalResult> {
    this.streams.get(stream.vhost)?.delete(stream.name);
    const removal = this.vhost(stream.vhost).exchanges.removeQueue(stream.name);
    await stream.destroy();
    await this.options.fs.rmdir(streamDir(this.options.dataDir, stream.vhost, stream.name));
    return removal;
  }

  async deleteStream(vhost: string, name: string): Promise<void> {
    this.checkOpen();
    const stream = this.getStream(vhost, name);
    const removal = await this.dropStream(stream);
    await this.meta.delete('stream', `${vhost}\u0000${name}`);
    await this.persistRemoval(vhost, removal, []);
    await this.coordinators.get(vhost)?.streamDeleted(name);
  }

  /** Applies retention to every stream; runs on a timer. */
  async enforceRetention(): Promise<number> {
    let n = 0;
    for (const m of this.streams.values()) for (const s of m.values()) n += await s.enforceRetention().catch(() => 0);
    return n;
  }

  // ---- queues --------------------------------------------------------------------------------------------

  private async openQueue(def: QueueDefinition): Promise<Queue> {
    const dir = queueDir(this.options.dataDir, def.vhost, def.name);
    const fsync = def.durable ? this.options.fsync : 'never';
    // A non-durable queue's directory is removed at the next start: its log is ephemeral (never synced).
    const log = await FilePartitionLog.open({ fs: this.options.fs, dir: joinPath(dir, 'log'), fsync, ephemeral: !def.durable, fsyncIntervalMs: this.options.fsyncIntervalMs, clock: this.options.clock, segmentBytesMax: 64 * 1024 * 1024 });
    const state = await SettlementLog.open(this.options.fs, joinPath(dir, 'state'), { fsync });
    const queue = await Queue.open({
      vhost: def.vhost,
      name: def.name,
      log,
      state,
      durable: def.durable,
      autoDelete: def.autoDelete,
      exclusiveOwner: def.exclusiveOwner,
      arguments: def.arguments,
      clock: this.options.clock,
      deadLetterSink: this.deadLetterSink,
      onUnused: (q) => void this.deleteQueue(q.vhost, q.name).catch((err: Error) => this.log.warn({ queue: q.name, err: err.message }, 'auto-delete failed')),
    });
    let m = this.queues.get(def.vhost);
    if (!m) this.queues.set(def.vhost, (m = new Map()));
    m.set(def.name, queue);
    this.vhost(def.vhost).exchanges.addQueue(def.name, 'queue', { durable: def.durable });
    return queue;
  }

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
  async declareQueue(vhost: string, name: string, opts: { durable?: boolean; exclusiveOwner?: string; autoDelete?: boolean; arguments?: QueueArguments } = {}): Promise<Queue> {
    this.checkOpen();
    this.vhost(vhost);
    const generated = name === '';
    if (generated) name = `amq.gen-${randomName()}`;
    if (Buffer.byteLength(name) > 255) throw new BrokerError(ErrorCode.InvalidArgument, 'queue name longer than 255 bytes');
    if (this.streams.get(vhost)?.has(name)) throw new BrokerError(ErrorCode.PreconditionFailed, `'${name}' in vhost '${vhost}' is a stream`);
    const existing = this.queues.get(vhost)?.get(name);
    const def: QueueDefinition = { vhost, name, durable: opts.durable ?? false, autoDelete: opts.autoDelete ?? false, exclusiveOwner: opts.exclusiveOwner, arguments: opts.arguments ?? {} };
    if (existing) {
      if (existing.exclusiveOwner !== undefined && existing.exclusiveOwner !== opts.exclusiveOwner) {
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
    if (name.startsWith('amq.') && !generated) throw new BrokerError(ErrorCode.AccessRefused, `queue name '${name}' contains reserved prefix 'amq.*'`);
    const queue = await this.openQueue(def);
    if (def.durable && def.exclusiveOwner === undefined) {
      try {
        await this.meta.put({ kind: 'queue', key: `${vhost}\u0000${name}`, value: JSON.parse(JSON.stringify(def)) });
      } catch (err) {
        await this.dropQueue(queue);
        throw err;
      }
    }
    return queue;
  }

  private async dropQueue(queue: Queue): Promise<RemovalResult> {
    this.queues.get(queue.vhost)?.delete(queue.name);
    const removal = this.vhost(queue.vhost).exchanges.removeQueue(queue.name);
    await queue.delete();
    return removal;
  }

  /** Deletes a queue; returns the number of ready messages it held. */
  async deleteQueue(vhost: string, name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    this.checkOpen();
    const queue = this.queues.get(vhost)?.get(name);
    if (!queue) return 0; // RabbitMQ: deleting a missing queue succeeds
    if (opts.ifUnused && queue.consumerCount > 0) throw new BrokerError(ErrorCode.PreconditionFailed, `queue '${name}' in vhost '${vhost}' in use`);
    if (opts.ifEmpty && queue.messageCount > 0) throw new BrokerError(ErrorCode.PreconditionFailed, `queue '${name}' in vhost '${vhost}' is not empty`);
    const count = queue.messageCount;
    const removal = await this.dropQueue(queue);
    const key = `${vhost}\u0000${name}`;
    if (this.meta.get('queue', key)) await this.meta.delete('queue', key);
    await this.persistRemoval(vhost, removal, []);
    return count;
  }

  /** Deletes the exclusive queues of a connection that closed. */
  async deleteExclusiveQueues(owner: string): Promise<void> {
    for (const m of this.queues.values()) for (const q of [...m.values()]) if (q.exclusiveOwner === owner) await this.deleteQueue(q.vhost, q.name);
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
    const v = this.vhost(vhost);
    const ops: MetaOp[] = [];
    for (const name of new Set([...exchanges, ...removal.deletedExchanges])) ops.push({ op: 'delete', kind: 'exchange', key: exchangeMetaKey(vhost, name) });
    for (const b of removal.removedBindings) ops.push({ op: 'delete', kind: 'binding', key: bindingMetaKey(v.exchanges.bindingDefinition(b)) });
    const present = ops.filter((o) => o.op === 'delete' && this.meta.get(o.kind, o.key) !== undefined);
    if (present.length > 0) await this.meta.apply(present);
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
  }

  private async closeQueuesAndStreams(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.allSettled([...this.coordinators.values()].map((c) => c.close()));
    this.coordinators.clear();
    for (const m of this.streams.values()) await Promise.allSettled([...m.values()].map((st) => st.close()));
    this.streams.clear();
    for (const m of this.queues.values()) await Promise.allSettled([...m.values()].map((q) => q.close()));
    this.queues.clear();
  }

  private checkOpen(): void {
    if (this.closed || this.stopping) throw new BrokerError(ErrorCode.Closed, 'broker is shutting down');
  }
}

/** How often stream retention is applied. */
const RETENTION_CHECK_MS = 60_000;
/** The internal log of committed consumer-group offsets, one per vhost. */
export const CONSUMER_OFFSETS = '__consumer_offsets';

export interface QueueDefinition {
  vhost: string;
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusiveOwner: string | undefined;
  arguments: QueueArguments;
}

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

function randomName(): string {
  return randomBytes(16).toString('base64url');
}

function sameArgs(a: FieldTable, b: FieldTable): boolean {
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
