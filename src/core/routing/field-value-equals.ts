// Equality of field values as RabbitMQ's headers exchange compares them (Erlang `==` on the values):
//  - numbers of any numeric type compare by value (int8 1 == int64 1n == double 1.0; NaN equals nothing);
//    timestamps are integers too;
//  - shortstr, longstr and bytes compare by bytes (they are all binaries);
//  - bool with bool, void with void; decimals by (scale, value);
//  - tables and arrays compare element-wise, and inside them the types must also match (Erlang compares
//    the {Type, Value} tuples), except that shortstr/longstr/bytes are one class.
import type { FieldTable, FieldValue } from '../message.js';

type NumericValue = number | bigint;

function numericOf(v: FieldValue): NumericValue | undefined {
  switch (v.type) {
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float':
    case 'double':
    case 'int64':
    case 'uint64':
    case 'timestamp':
      return v.value;
    default:
      return undefined;
  }
}

function numbersEqual(a: NumericValue, b: NumericValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
  const n = (typeof a === 'number' ? a : b) as number;
  const big = (typeof a === 'bigint' ? a : b) as bigint;
  return Number.isInteger(n) && BigInt(n) === big;
}

const isBinary = (v: FieldValue) => v.type === 'shortstr' || v.type === 'longstr' || v.type === 'bytes';
const binaryOf = (v: FieldValue) => (v as { value: Buffer }).value;

/** Top-level comparison (type tags ignored within a class). */
export function fieldValuesEqual(a: FieldValue, b: FieldValue): boolean {
  const na = numericOf(a);
  if (na !== undefined) {
    const nb = numericOf(b);
    return nb !== undefined && numbersEqual(na, nb);
  }
  return sameClassEqual(a, b);
}

function sameClassEqual(a: FieldValue, b: FieldValue): boolean {
  if (isBinary(a)) return isBinary(b) && binaryOf(a).equals(binaryOf(b));
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'void':
      return true;
    case 'bool':
      return a.value === (b as typeof a).value;
    case 'decimal':
      return a.scale === (b as typeof a).scale && a.value === (b as typeof a).value;
    case 'table':
      return fieldTablesEqual(a.value, (b as typeof a).value);
    case 'array': {
      const x = a.value;
      const y = (b as typeof a).value;
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!nestedEqual(x[i]!, y[i]!)) return false;
      return true;
    }
    default:
      // numeric with the same type tag (reached for nested values)
      return numbersEqual(numericOf(a)!, numericOf(b)!);
  }
}

/** Inside tables/arrays the type tag must match too (binaries excepted). */
function nestedEqual(a: FieldValue, b: FieldValue): boolean {
  if (isBinary(a)) return isBinary(b) && binaryOf(a).equals(binaryOf(b));
  return a.type === b.type && sameClassEqual(a, b);
}

export function fieldTablesEqual(a: FieldTable, b: FieldTable): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]![0] !== b[i]![0] || !nestedEqual(a[i]![1], b[i]![1])) return false;
  }
  return true;
}
