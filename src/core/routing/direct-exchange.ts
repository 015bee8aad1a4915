// Direct exchange: a message goes to every destination bound with a key equal to its routing key.
import type { FieldTable } from '../message.js';
import type { Destination } from './destination.js';
import { BaseExchange, refAdd, refRemove } from './exchange.js';

export class DirectExchange extends BaseExchange {
  readonly type = 'direct' as const;
  private readonly byKey = new Map<string, Map<Destination, number>>();

  bind(destination: Destination, key: string, _args: FieldTable): void {
    let m = this.byKey.get(key);
    if (m === undefined) this.byKey.set(key, (m = new Map()));
    refAdd(m, destination);
  }

  unbind(destination: Destination, key: string, _args: FieldTable): boolean {
    const m = this.byKey.get(key);
    if (m === undefined || !refRemove(m, destination)) return false;
    if (m.size === 0) this.byKey.delete(key);
    return true;
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: Set<Destination>): void {
    const m = this.byKey.get(routingKey);
    if (m !== undefined) for (const d of m.keys()) out.add(d);
  }
}
