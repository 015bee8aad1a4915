// The exchanges and bindings of one vhost, with RabbitMQ's rules (design.md §1, §4):
//  - the default exchange '' routes to the queue (or stream) named by the routing key; it cannot be
//    declared, bound, unbound or deleted (AccessRefused "operation not permitted on the default exchange");
//  - amq.direct, amq.fanout, amq.topic, amq.headers, amq.match always exist (durable) and cannot be deleted;
//    clients cannot declare new names starting with 'amq.' (AccessRefused);
//  - redeclaring checks equivalence of type, durable, auto_delete, internal and the `alternate-exchange`
//    argument (the only exchange argument RabbitMQ checks) -> PreconditionFailed with RabbitMQ's text;
//  - exchange-to-exchange bindings are followed with loop protection; an exchange whose own bindings select
//    nothing hands the message to its alternate exchange (whose own AE applies in turn; loops stop);
//  - an auto-delete exchange is deleted when its last binding as source goes (unbind, queue deletion,
//    destination exchange deletion), cascading.
// Queues and streams are known only by name and kind (addQueue/removeQueue): the registry is independent
// of storage and of queue state; the broker facade resolves the names route() returns.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { Limits } from '../../lib/limits.js';
import type { MetaRecord, MetaValue } from '../../storage/meta/meta-store.js';
import type { FieldTable } from '../message.js';
import { fieldString, fieldTableFromJson, fieldTableToJson, findField, type FieldTableJson } from '../message-codec.js';
import { bindingId, type Binding } from './binding.js';
import type { Destination, DestinationKind } from './destination.js';
import { DirectExchange } from './direct-exchange.js';
import { isExchangeType, type Exchange, type ExchangeOptions, type ExchangeType } from './exchange.js';
import { FanoutExchange } from './fanout-exchange.js';
import { fieldValuesEqual } from './field-value-equals.js';
import { HeadersExchange } from './headers-exchange.js';
import { TopicExchange } from './topic-exchange.js';

export const DEFAULT_EXCHANGE = '';
export const BUILTIN_EXCHANGES: ReadonlyArray<readonly [string, ExchangeType]> = [
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

export function createExchange(name: string, type: ExchangeType, opts: ExchangeOptions = {}, vhost = '/'): Exchange {
  switch (type) {
    case 'direct':
      return new DirectExchange(name, opts, vhost);
    case 'fanout':
      return new FanoutExchange(name, opts, vhost);
    case 'topic':
      return new TopicExchange(name, opts, vhost);
    case 'headers':
      return new HeadersExchange(name, opts, vhost);
  }
}

/** The outcome of route(). Reused between calls when no `out` is passed: consume it before routing again. */
export interface RouteResult {
  /** False when the exchange does not exist (AMQP: channel error 404 on publish). */
  exchangeFound: boolean;
  /** The exchange is internal (clients may not publish to it directly). */
  internal: boolean;
  /** Terminal destinations (queues and streams), deduplicated, interned objects. */
  destinations: Destination[];
}

export const newRouteResult = (): RouteResult => ({ exchangeFound: false, internal: false, destinations: [] });

/** What a removal took away, for the caller to persist (MetaStore deletes) and to notify. */
export interface RemovalResult {
  removedBindings: Binding[];
  /** Exchanges deleted, including auto-deleted ones. */
  deletedExchanges: string[];
}

export interface ExchangeDefinition {
  vhost: string;
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTableJson;
}

export interface BindingDefinition {
  vhost: string;
  source: string;
  destinationKind: DestinationKind;
  destination: string;
  routingKey: string;
  arguments: FieldTableJson;
}

export interface RegistryDefinitions {
  exchanges: ExchangeDefinition[];
  bindings: BindingDefinition[];
}

interface BindingEntry extends Binding {
  readonly id: string;
}

interface ExchangeEntry {
  readonly exchange: Exchange;
  readonly dest: Destination;
  readonly outgoing: Map<string, BindingEntry>;
  readonly builtin: boolean;
}

interface QueueEntry {
  readonly dest: Destination;
  readonly durable: boolean;
}

const operationNotPermitted = () => new BrokerError(ErrorCode.AccessRefused, 'operation not permitted on the default exchange');

function fmtValue(v: string | boolean): string {
  return `'${String(v)}'`;
}

export class ExchangeRegistry {
  private readonly exchanges = new Map<string, ExchangeEntry>();
  private readonly queues = new Map<string, QueueEntry>();
  private readonly incoming = new Map<Destination, Set<BindingEntry>>();
  private readonly defaultExchange: Exchange;
  // route() scratch, reused
  private readonly result = newRouteResult();
  private readonly scratch = new Set<Destination>();
  private readonly seenTerminal = new Set<Destination>();
  private readonly seenExchanges = new Set<ExchangeEntry>();
  private readonly work: ExchangeEntry[] = [];

  constructor(readonly vhost = '/') {
    this.defaultExchange = new DirectExchange(DEFAULT_EXCHANGE, { durable: true }, vhost);
    for (const [name, type] of BUILTIN_EXCHANGES) this.create(name, type, { durable: true }, true);
  }

  // ---- exchanges ---------------------------------------------------------------------------------------

  /**
   * Declares an exchange (AMQP exchange.declare, passive=false). Returns the existing one if equivalent.
   * Errors: AccessRefused ('' or a new 'amq.' name), InvalidArgument (type, name), PreconditionFailed
   * (inequivalent redeclare, bad alternate-exchange type).
   */
  declare(name: string, type: string, opts: ExchangeOptions = {}): { exchange: Exchange; created: boolean } {
    if (name === DEFAULT_EXCHANGE) throw operationNotPermitted();
    if (Buffer.byteLength(name) > Limits.nameLengthMax) throw new BrokerError(ErrorCode.InvalidArgument, `exchange name is longer than ${Limits.nameLengthMax} bytes`);
    if (!isExchangeType(type)) throw new BrokerError(ErrorCode.InvalidArgument, `unknown exchange type '${type}'`);
    const existing = this.exchanges.get(name);
    if (existing !== undefined) {
      this.assertEquivalent(existing.exchange, type, opts);
      return { exchange: existing.exchange, created: false };
    }
    if (name.startsWith('amq.')) {
      throw new BrokerError(ErrorCode.AccessRefused, `exchange name '${name}' contains reserved prefix 'amq.*'`);
    }
    return { exchange: this.create(name, type, opts, false).exchange, created: true };
  }

  /** exchange.declare passive=true: the exchange, or NotFound. '' is refused like RabbitMQ. */
  declarePassive(name: string): Exchange {
    if (name === DEFAULT_EXCHANGE) throw operationNotPermitted();
    return this.mustGet(name).exchange;
  }

  /** The exchange (including the default '' exchange), or undefined. */
  lookup(name: string): Exchange | undefined {
    if (name === DEFAULT_EXCHANGE) return this.defaultExchange;
    return this.exchanges.get(name)?.exchange;
  }

  /** Every exchange, the default one first. */
  list(): Exchange[] {
    const out: Exchange[] = [this.defaultExchange];
    for (const e of this.exchanges.values()) out.push(e.exchange);
    return out;
  }

  /**
   * exchange.delete. Deleting a missing exchange is not an error (returns an empty result). Errors:
   * AccessRefused ('' or amq.*), PreconditionFailed (ifUnused and the exchange has bindings as source).
   * Removes its bindings as source and as destination (sources that are auto-delete may go too).
   */
  delete(name: string, opts: { ifUnused?: boolean } = {}): RemovalResult {
    if (name === DEFAULT_EXCHANGE) throw operationNotPermitted();
    const res: RemovalResult = { removedBindings: [], deletedExchanges: [] };
    const entry = this.exchanges.get(name);
    if (name.startsWith('amq.') && (entry === undefined || entry.builtin)) {
      throw new BrokerError(ErrorCode.AccessRefused, `deletion of system exchange '${name}' in vhost '${this.vhost}' not allowed`);
    }
    if (entry === undefined) return res;
    if (opts.ifUnused && entry.outgoing.size > 0) {
      throw new BrokerError(ErrorCode.PreconditionFailed, `exchange '${name}' in vhost '${this.vhost}' in use`);
    }
    this.deleteEntry(entry, res);
    return res;
  }

  // ---- queues and streams (binding destinations) -------------------------------------------------------

  /** Makes a queue or stream known (a binding destination and a default-exchange target). Idempotent. */
  addQueue(name: string, kind: 'queue' | 'stream' = 'queue', opts: { durable?: boolean } = {}): Destination {
    const existing = this.queues.get(name);
    if (existing !== undefined) {
      if (existing.dest.kind !== kind) {
        throw new BrokerError(ErrorCode.AlreadyExists, `${existing.dest.kind} '${name}' in vhost '${this.vhost}' already exists`);
      }
      return existing.dest;
    }
    const dest: Destination = { kind, name };
    this.queues.set(name, { dest, durable: opts.durable ?? true });
    return dest;
  }

  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  /** Forgets a queue/stream and removes every binding to it (auto-delete sources may go). */
  removeQueue(name: string): RemovalResult {
    const res: RemovalResult = { removedBindings: [], deletedExchanges: [] };
    const q = this.queues.get(name);
    if (q === undefined) return res;
    this.queues.delete(name);
    this.removeIncoming(q.dest, res);
    return res;
  }

  // ---- bindings ----------------------------------------------------------------------------------------

  /**
   * queue.bind / exchange.bind. Returns false when the same binding already existed. `destination.kind`
   * 'queue' and 'stream' both name the queue namespace (the registered kind is used). Errors: AccessRefused
   * (the default exchange at either end), NotFound (either end), PreconditionFailed (arguments refused by
   * the exchange type, e.g. a bad x-match).
   */
  bind(source: string, destination: { kind: DestinationKind; name: string }, routingKey = '', args: FieldTable = []): boolean {
    const { src, dest } = this.resolveEnds(source, destination);
    const id = bindingId(source, dest, routingKey, args);
    if (src.outgoing.has(id)) return false;
    src.exchange.validateBinding(routingKey, args);
    this.addBinding(src, { id, source, destination: dest, routingKey, arguments: args });
    return true;
  }

  /** queue.unbind / exchange.unbind. A missing binding is not an error (empty result). */
  unbind(source: string, destination: { kind: DestinationKind; name: string }, routingKey = '', args: FieldTable = []): RemovalResult {
    const { src, dest } = this.resolveEnds(source, destination);
    const res: RemovalResult = { removedBindings: [], deletedExchanges: [] };
    const b = src.outgoing.get(bindingId(source, dest, routingKey, args));
    if (b !== undefined) this.removeBinding(b, res);
    return res;
  }

  /**
   * Explicit bindings, optionally filtered by source and/or destination. With includeDefault, also the
   * implicit default-exchange binding of every queue (source '', key = queue name), as RabbitMQ lists them.
   */
  listBindings(filter: { source?: string; destination?: { kind: DestinationKind; name: string }; includeDefault?: boolean } = {}): Binding[] {
    const out: Binding[] = [];
    const destKey = filter.destination ? this.internOf(filter.destination) : undefined;
    if (filter.destination && destKey === undefined) return out;
    if (filter.includeDefault && (filter.source === undefined || filter.source === DEFAULT_EXCHANGE)) {
      for (const q of this.queues.values()) {
        if (destKey === undefined || destKey === q.dest) out.push({ source: DEFAULT_EXCHANGE, destination: q.dest, routingKey: q.dest.name, arguments: [] });
      }
    }
    if (destKey !== undefined) {
      for (const b of this.incoming.get(destKey) ?? []) if (filter.source === undefined || b.source === filter.source) out.push(b);
      return out;
    }
    for (const e of this.exchanges.values()) {
      if (filter.source !== undefined && e.exchange.name !== filter.source) continue;
      for (const b of e.outgoing.values()) out.push(b);
    }
    return out;
  }

  // ---- routing -----------------------------------------------------------------------------------------

  /**
   * Routes (routingKey, headers) published to `exchange` to its terminal destinations, following
   * exchange-to-exchange bindings and alternate exchanges. Writes into `out` (default: one result object
   * owned by the registry, overwritten by the next call). No per-message closures; allocation-light.
   */
  route(exchange: string, routingKey: string, headers: FieldTable | undefined, out: RouteResult = this.result): RouteResult {
    const dests = out.destinations;
    dests.length = 0;
    out.internal = false;
    if (exchange === DEFAULT_EXCHANGE) {
      out.exchangeFound = true;
      const q = this.queues.get(routingKey);
      if (q !== undefined) dests.push(q.dest);
      return out;
    }
    const first = this.exchanges.get(exchange);
    out.exchangeFound = first !== undefined;
    if (first === undefined) return out;
    out.internal = first.exchange.internal;
    const seenX = this.seenExchanges;
    const seenT = this.seenTerminal;
    const scratch = this.scratch;
    const work = this.work;
    seenX.clear();
    seenT.clear();
    work.length = 0;
    work.push(first);
    seenX.add(first);
    // Each exchange is visited at most once per route (seenX): loops and diamonds stop there.
    while (work.length > 0) {
      const x = work.pop()!.exchange;
      scratch.clear();
      x.route(routingKey, headers, scratch);
      if (scratch.size === 0) {
        if (x.alternateExchange !== undefined) this.enqueueExchange(x.alternateExchange);
        continue;
      }
      for (const d of scratch) {
        if (d.kind === 'exchange') this.enqueueExchange(d.name);
        else if (!seenT.has(d)) {
          seenT.add(d);
          dests.push(d);
        }
      }
    }
    scratch.clear();
    return out;
  }

  // ---- definitions -------------------------------------------------------------------------------------

  /**
   * Definitions as plain JSON-serialisable records: user-declared exchanges (not '' or the amq.* ones) and
   * explicit bindings. By default only durable ones, as RabbitMQ persists them: durable exchanges, and
   * bindings whose source and destination are both durable.
   */
  snapshot(opts: { includeTransient?: boolean } = {}): RegistryDefinitions {
    const all = opts.includeTransient ?? false;
    const exchanges: ExchangeDefinition[] = [];
    const bindings: BindingDefinition[] = [];
    for (const e of this.exchanges.values()) {
      if (!e.builtin && (all || e.exchange.durable)) exchanges.push(this.exchangeDefinition(e.exchange));
      if (!all && !e.exchange.durable) continue;
      for (const b of e.outgoing.values()) if (all || this.isDurable(b.destination)) bindings.push(this.bindingDefinition(b));
    }
    return { exchanges, bindings };
  }

  /**
   * Re-creates definitions from snapshot(): call addQueue for every queue and stream first. Existing
   * exchanges are kept as they are; bindings whose ends are missing are returned, not created.
   */
  restore(defs: RegistryDefinitions): { skippedBindings: BindingDefinition[] } {
    for (const d of defs.exchanges) {
      if (d.name === DEFAULT_EXCHANGE || this.exchanges.has(d.name)) continue;
      if (!isExchangeType(d.type)) throw new BrokerError(ErrorCode.CorruptData, `exchange '${d.name}' has unknown type '${String(d.type)}'`);
      this.create(d.name, d.type, { durable: d.durable, autoDelete: d.autoDelete, internal: d.internal, arguments: fieldTableFromJson(d.arguments) }, false);
    }
    const skippedBindings: BindingDefinition[] = [];
    for (const d of defs.bindings) {
      const src = this.exchanges.get(d.source);
      const dest = this.internOf({ kind: d.destinationKind, name: d.destination });
      if (src === undefined || dest === undefined) {
        skippedBindings.push(d);
        continue;
      }
      const args = fieldTableFromJson(d.arguments);
      const id = bindingId(d.source, dest, d.routingKey, args);
      if (!src.outgoing.has(id)) this.addBinding(src, { id, source: d.source, destination: dest, routingKey: d.routingKey, arguments: args });
    }
    return { skippedBindings };
  }

  exchangeDefinition(x: Exchange): ExchangeDefinition {
    return {
      vhost: this.vhost,
      name: x.name,
      type: x.type,
      durable: x.durable,
      autoDelete: x.autoDelete,
      internal: x.internal,
      arguments: fieldTableToJson(x.arguments),
    };
  }

  bindingDefinition(b: Binding): BindingDefinition {
    return {
      vhost: this.vhost,
      source: b.source,
      destinationKind: b.destination.kind,
      destination: b.destination.name,
      routingKey: b.routingKey,
      arguments: fieldTableToJson(b.arguments),
    };
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private create(name: string, type: ExchangeType, opts: ExchangeOptions, builtin: boolean): ExchangeEntry {
    const exchange = createExchange(name, type, opts, this.vhost);
    const entry: ExchangeEntry = { exchange, dest: { kind: 'exchange', name }, outgoing: new Map(), builtin };
    this.exchanges.set(name, entry);
    return entry;
  }

  private mustGet(name: string): ExchangeEntry {
    const e = this.exchanges.get(name);
    if (e === undefined) throw new BrokerError(ErrorCode.NotFound, `no exchange '${name}' in vhost '${this.vhost}'`);
    return e;
  }

  private assertEquivalent(x: Exchange, type: ExchangeType, opts: ExchangeOptions): void {
    const field = (key: string, current: string | boolean, received: string | boolean) => {
      if (current !== received) {
        throw new BrokerError(
          ErrorCode.PreconditionFailed,
          `inequivalent arg '${key}' for exchange '${x.name}' in vhost '${this.vhost}': received ${fmtValue(received)} but current is ${fmtValue(current)}`,
        );
      }
    };
    field('type', x.type, type);
    field('durable', x.durable, opts.durable ?? false);
    field('auto_delete', x.autoDelete, opts.autoDelete ?? false);
    field('internal', x.internal, opts.internal ?? false);
    const cur = findField(x.arguments, 'alternate-exchange');
    const req = findField(opts.arguments, 'alternate-exchange');
    if (cur === undefined && req === undefined) return;
    const same =
      cur !== undefined &&
      req !== undefined &&
      (fieldString(cur) !== undefined ? fieldString(cur) === fieldString(req) : fieldValuesEqual(cur, req));
    if (!same) {
      const show = (v: typeof cur) => (v === undefined ? 'none' : `the value '${fieldString(v) ?? String((v as { value?: unknown }).value)}' of type '${v.type}'`);
      throw new BrokerError(
        ErrorCode.PreconditionFailed,
        `inequivalent arg 'alternate-exchange' for exchange '${x.name}' in vhost '${this.vhost}': received ${show(req)} but current is ${show(cur)}`,
      );
    }
  }

  private internOf(d: { kind: DestinationKind; name: string }): Destination | undefined {
    if (d.kind === 'exchange') return d.name === DEFAULT_EXCHANGE ? undefined : this.exchanges.get(d.name)?.dest;
    return this.queues.get(d.name)?.dest;
  }

  private isDurable(d: Destination): boolean {
    if (d.kind === 'exchange') return this.exchanges.get(d.name)?.exchange.durable ?? false;
    return this.queues.get(d.name)?.durable ?? false;
  }

  private resolveEnds(source: string, destination: { kind: DestinationKind; name: string }): { src: ExchangeEntry; dest: Destination } {
    if (source === DEFAULT_EXCHANGE || (destination.kind === 'exchange' && destination.name === DEFAULT_EXCHANGE)) throw operationNotPermitted();
    const src = this.mustGet(source);
    const dest = this.internOf(destination);
    if (dest === undefined) {
      const what = destination.kind === 'exchange' ? 'exchange' : 'queue';
      throw new BrokerError(ErrorCode.NotFound, `no ${what} '${destination.name}' in vhost '${this.vhost}'`);
    }
    return { src, dest };
  }

  private addBinding(src: ExchangeEntry, b: BindingEntry): void {
    src.exchange.bind(b.destination, b.routingKey, b.arguments);
    src.outgoing.set(b.id, b);
    let s = this.incoming.get(b.destination);
    if (s === undefined) this.incoming.set(b.destination, (s = new Set()));
    s.add(b);
  }

  private removeBinding(b: BindingEntry, res: RemovalResult): void {
    const src = this.exchanges.get(b.source);
    const s = this.incoming.get(b.destination);
    if (s !== undefined) {
      s.delete(b);
      if (s.size === 0) this.incoming.delete(b.destination);
    }
    res.removedBindings.push(b);
    if (src === undefined || !src.outgoing.delete(b.id)) return;
    src.exchange.unbind(b.destination, b.routingKey, b.arguments);
    if (src.exchange.autoDelete && src.outgoing.size === 0) this.deleteEntry(src, res);
  }

  private removeIncoming(dest: Destination, res: RemovalResult): void {
    const s = this.incoming.get(dest);
    if (s === undefined) return;
    for (const b of [...s]) this.removeBinding(b, res);
    this.incoming.delete(dest);
  }

  private deleteEntry(entry: ExchangeEntry, res: RemovalResult): void {
    const name = entry.exchange.name;
    if (this.exchanges.get(name) !== entry) return;
    this.exchanges.delete(name);
    res.deletedExchanges.push(name);
    for (const b of [...entry.outgoing.values()]) {
      const s = this.incoming.get(b.destination);
      if (s !== undefined) {
        s.delete(b);
        if (s.size === 0) this.incoming.delete(b.destination);
      }
      res.removedBindings.push(b);
    }
    entry.outgoing.clear();
    this.removeIncoming(entry.dest, res);
  }

  private enqueueExchange(name: string): void {
    const e = this.exchanges.get(name);
    if (e !== undefined && !this.seenExchanges.has(e)) {
      this.seenExchanges.add(e);
      this.work.push(e);
    }
  }
}

// ---- MetaStore records -----------------------------------------------------------------------------------

export const exchangeMetaKey = (vhost: string, name: string): string => `${vhost}\u0000${name}`;
export const bindingMetaKey = (d: BindingDefinition): string =>
  `${d.vhost}\u0000${d.source}\u0000${d.destinationKind === 'exchange' ? 'e' : 'q'}\u0000${d.destination}\u0000${d.routingKey}\u0000${JSON.stringify(d.arguments)}`;

export function exchangeMetaRecord(d: ExchangeDefinition): MetaRecord {
  return { kind: 'exchange', key: exchangeMetaKey(d.vhost, d.name), value: JSON.parse(JSON.stringify(d)) as { [key: string]: MetaValue } };
}

export function bindingMetaRecord(d: BindingDefinition): MetaRecord {
  return { kind: 'binding', key: bindingMetaKey(d), value: JSON.parse(JSON.stringify(d)) as { [key: string]: MetaValue } };
}
