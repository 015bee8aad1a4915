// Topic exchange: binding keys are patterns over '.'-separated words with '*' (one word) and '#' (zero or
// more words), matched by a TopicTrie.
import type { FieldTable } from '../message.js';
import type { Destination } from './destination.js';
import { BaseExchange } from './exchange.js';
import { TopicTrie } from './topic-trie.js';

export class TopicExchange extends BaseExchange {
  readonly type = 'topic' as const;
  private readonly trie = new TopicTrie<Destination>();

  bind(destination: Destination, key: string, _args: FieldTable): void {
    this.trie.add(key, destination);
  }

  unbind(destination: Destination, key: string, _args: FieldTable): boolean {
    return this.trie.remove(key, destination);
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: Set<Destination>): void {
    this.trie.match(routingKey, out);
  }
}
