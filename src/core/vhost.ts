// A vhost: its own exchanges, queues, streams and consumer groups (design.md §1).
import { ExchangeRegistry } from './routing/exchange-registry.js';

export const DEFAULT_VHOST = '/';

export class Vhost {
  readonly exchanges: ExchangeRegistry;

  constructor(readonly name: string) {
    this.exchanges = new ExchangeRegistry(name);
  }
}
