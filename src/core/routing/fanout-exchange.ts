// Fanout exchange: a message goes to every bound destination; keys and arguments are ignored.
import type { FieldTable } from '../message.js';
import type { Destination } from './destination.js';
import { BaseExchange, refAdd, refRemove } from './exchange.js';

export class FanoutExchange extends BaseExchange {
  readonly type = 'fanout' as const;
  private readonly destinations = new Map<Destination, number>();

  bind(destination: Destination, _key: string, _args: FieldTable): void {
    refAdd(this.destinations, destination);
  }

  unbind(destination: Destination, _key: string, _args: FieldTable): boolean {
    return refRemove(this.destinations, destination);
  }

  route(_routingKey: string, _headers: FieldTable | undefined, out: Set<Destination>): void {
    for (const d of this.destinations.keys()) out.add(d);
  }
}
