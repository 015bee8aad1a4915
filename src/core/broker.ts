// The Broker facade (design.md §7): the protocol-neutral entry point every protocol calls. It owns the
// vhosts (exchanges, queues, streams, consumer groups), users and the MetaStore that persists their
// definitions. Protocols never reach storage themselves.
import { childLogger } from '../lib/logger.js';
import { BrokerError, ErrorCode } from '../lib/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';
import type { FileSystem } from '../storage/fs/file-system.js';
import { NodeFileSystem } from '../storage/fs/node-fs.js';
import { metaDir, openDataDir } from '../storage/data-dir.js';
import { LocalMetaStore } from '../storage/meta/local-meta-store.js';
import type { MetaOp, MetaStore } from '../storage/meta/meta-store.js';
import type { FsyncPolicy } from '../storage/log/types.js';
import type { FieldTable } from './message.js';
import { UserStore } from './auth/user-store.js';
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
}

export interface BrokerHealth {
  status: 'ok' | 'stopping';
  uptimeMs: number;
  vhosts: number;
}

export class Broker {
  private readonly log = childLogger('broker');
  private readonly vhosts = new Map<string, Vhost>();
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
      { dataDir: opts.dataDir, fs, fsync: opts.fsync ?? 'always', fsyncIntervalMs: opts.fsyncIntervalMs ?? 200, clock: opts.clock ?? systemClock },
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

  /** Extended by queues and streams (see the queue and stream sections). */
  private async restoreQueuesAndStreams(): Promise<void> {}

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

  /** Overridden knowledge of queues/streams lives in the queue and stream sections. */
  private isDurableQueueOrStream(_vhost: string, _name: string): boolean {
    return true;
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

  private async closeQueuesAndStreams(): Promise<void> {}

  private checkOpen(): void {
    if (this.closed || this.stopping) throw new BrokerError(ErrorCode.Closed, 'broker is shutting down');
  }
}

function sameArgs(a: FieldTable, b: FieldTable): boolean {
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
