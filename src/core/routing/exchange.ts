// The Exchange interface (design.md §1): a routing function from (routing key, headers) to destinations.
// One file per kind implements it (direct, fanout, topic, headers). Exchanges only index their bindings;
// the ExchangeRegistry owns binding identity, exchange-to-exchange traversal and alternate exchanges.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { FieldTable } from '../message.js';
import { fieldString, findField } from '../message-codec.js';
import type { Destination } from './destination.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';
export const EXCHANGE_TYPES: readonly ExchangeType[] = ['direct', 'fanout', 'topic', 'headers'];
export const isExchangeType = (t: string): t is ExchangeType => (EXCHANGE_TYPES as readonly string[]).includes(t);

export interface ExchangeOptions {
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  arguments?: FieldTable;
}

export interface Exchange {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  /** From the `alternate-exchange` argument: where messages go when this exchange routes to nothing. */
  readonly alternateExchange: string | undefined;
  /** Throws BrokerError(PreconditionFailed) if the exchange type refuses these binding arguments. */
  validateBinding(key: string, args: FieldTable): void;
  /** Indexes one binding. The registry calls it once per distinct (destination, key, args). */
  bind(destination: Destination, key: string, args: FieldTable): void;
  /** Removes one binding added by bind with the same (destination, key, args); false if unknown. */
  unbind(destination: Destination, key: string, args: FieldTable): boolean;
  /** Adds the destinations this exchange's own bindings select to `out` (no traversal). */
  route(routingKey: string, headers: FieldTable | undefined, out: Set<Destination>): void;
}

/** Reads `alternate-exchange` (a string-typed argument); PreconditionFailed for another type, like RabbitMQ. */
export function alternateExchangeOf(name: string, vhost: string, args: FieldTable): string | undefined {
  const v = findField(args, 'alternate-exchange');
  if (v === undefined) return undefined;
  const s = fieldString(v);
  if (s === undefined) {
    throw new BrokerError(ErrorCode.PreconditionFailed, `invalid type '${v.type}' for arg 'alternate-exchange' in exchange '${name}' in vhost '${vhost}'`);
  }
  return s;
}

export abstract class BaseExchange implements Exchange {
  abstract readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  readonly alternateExchange: string | undefined;

  constructor(
    readonly name: string,
    opts: ExchangeOptions = {},
    vhost = '/',
  ) {
    this.durable = opts.durable ?? false;
    this.autoDelete = opts.autoDelete ?? false;
    this.internal = opts.internal ?? false;
    this.arguments = opts.arguments ?? [];
    this.alternateExchange = alternateExchangeOf(name, vhost, this.arguments);
  }

  validateBinding(_key: string, _args: FieldTable): void {}
  abstract bind(destination: Destination, key: string, args: FieldTable): void;
  abstract unbind(destination: Destination, key: string, args: FieldTable): boolean;
  abstract route(routingKey: string, headers: FieldTable | undefined, out: Set<Destination>): void;
}

/** Reference-counted membership (several distinct bindings may select the same destination). */
export function refAdd<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

export function refRemove<K>(m: Map<K, number>, k: K): boolean {
  const c = m.get(k);
  if (c === undefined) return false;
  if (c > 1) m.set(k, c - 1);
  else m.delete(k);
  return true;
}
