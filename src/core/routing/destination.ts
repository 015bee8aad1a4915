// Where a binding (and a route) leads. Queues and streams are terminal; exchanges are followed by the
// ExchangeRegistry (exchange-to-exchange bindings). Exchanges and the registry compare destinations by
// identity: the registry interns one Destination object per (kind, name), so a route's result set needs no
// string keys.
export type DestinationKind = 'queue' | 'exchange' | 'stream';

export interface Destination {
  readonly kind: DestinationKind;
  readonly name: string;
}

export const isTerminal = (d: Destination): boolean => d.kind !== 'exchange';
