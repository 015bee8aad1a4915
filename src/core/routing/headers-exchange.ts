// Headers exchange (RabbitMQ semantics): a binding's arguments are matched against the message's headers
// table; the routing key is ignored.
//  - `x-match`: 'all' (default) | 'any' | 'all-with-x' | 'any-with-x'; any other value or a non-string type
//    is refused at bind time (PreconditionFailed, like RabbitMQ's binding_invalid).
//  - Binding arguments whose name starts with 'x-' are ignored for matching, except with the -with-x
//    variants; `x-match` itself is always ignored.
//  - A binding argument of type 'void' matches on the presence of the header alone.
//  - Values compare with fieldValuesEqual (numbers by value across numeric types, strings by bytes).
//  - 'all' with no (remaining) arguments matches every message; 'any' with none matches nothing.
// Bindings are kept in an array and scanned per message, as RabbitMQ does.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { FieldTable, FieldValue } from '../message.js';
import { fieldString, findField } from '../message-codec.js';
import { bindingArgsKey } from './binding.js';
import type { Destination } from './destination.js';
import { BaseExchange } from './exchange.js';
import { fieldValuesEqual } from './field-value-equals.js';

export type HeadersMatchKind = 'all' | 'any' | 'all-with-x' | 'any-with-x';

interface HeadersBinding {
  destination: Destination;
  key: string;
  argsKey: string;
  any: boolean;
  /** The argument entries that take part in matching. */
  pattern: FieldTable;
}

export function parseXMatch(args: FieldTable): HeadersMatchKind {
  const v = findField(args, 'x-match');
  if (v === undefined) return 'all';
  const s = fieldString(v);
  if (s === undefined) {
    throw new BrokerError(ErrorCode.PreconditionFailed, `Invalid x-match field type ${v.type}; expected longstr`);
  }
  if (s === 'all' || s === 'any' || s === 'all-with-x' || s === 'any-with-x') return s;
  throw new BrokerError(ErrorCode.PreconditionFailed, `Invalid x-match field value '${s}'; expected all, any, all-with-x, or any-with-x`);
}

function matchPattern(kind: HeadersMatchKind, args: FieldTable): FieldTable {
  const withX = kind === 'all-with-x' || kind === 'any-with-x';
  return args.filter(([name]) => name !== 'x-match' && (withX || !name.startsWith('x-')));
}

/** Whether a message's headers satisfy a binding pattern (exported for tests and other matchers). */
export function headersMatch(any: boolean, pattern: FieldTable, headers: FieldTable | undefined): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const [name, want] = pattern[i]!;
    const have: FieldValue | undefined = findField(headers, name);
    const ok = have !== undefined && (want.type === 'void' || fieldValuesEqual(want, have));
    if (any) {
      if (ok) return true;
    } else if (!ok) return false;
  }
  return !any;
}

export class HeadersExchange extends BaseExchange {
  readonly type = 'headers' as const;
  private readonly bindings: HeadersBinding[] = [];

  override validateBinding(_key: string, args: FieldTable): void {
    parseXMatch(args);
  }

  bind(destination: Destination, key: string, args: FieldTable): void {
    const kind = parseXMatch(args);
    this.bindings.push({
      destination,
      key,
      argsKey: bindingArgsKey(args),
      any: kind === 'any' || kind === 'any-with-x',
      pattern: matchPattern(kind, args),
    });
  }

  unbind(destination: Destination, key: string, args: FieldTable): boolean {
    const argsKey = bindingArgsKey(args);
    const i = this.bindings.findIndex((b) => b.destination === destination && b.key === key && b.argsKey === argsKey);
    if (i < 0) return false;
    this.bindings.splice(i, 1);
    return true;
  }

  route(_routingKey: string, headers: FieldTable | undefined, out: Set<Destination>): void {
    const bs = this.bindings;
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i]!;
      if (!out.has(b.destination) && headersMatch(b.any, b.pattern, headers)) out.add(b.destination);
    }
  }
}
