// Binding identity: (source, destination, routing key, arguments). Arguments compare as a set of named
// typed values (order-insensitive, like RabbitMQ which sorts them); the canonical form is the sorted table's
// binary encoding.
import type { FieldTable } from '../message.js';
import { encodeFieldTable } from '../message-codec.js';
import type { Destination } from './destination.js';

export interface Binding {
  readonly source: string;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

const byName = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** Canonical string of a binding's arguments ('' for none). */
export function bindingArgsKey(args: FieldTable): string {
  if (args.length === 0) return '';
  return encodeFieldTable(args.slice().sort(byName)).toString('latin1');
}

/** Destinations of kind 'queue' and 'stream' share one namespace. */
export const destinationKey = (d: Destination): string => (d.kind === 'exchange' ? 'e:' : 'q:') + d.name;

export function bindingId(source: string, destination: Destination, routingKey: string, args: FieldTable): string {
  return `${source}\u0000${destinationKey(destination)}\u0000${routingKey}\u0000${bindingArgsKey(args)}`;
}
