// fast-check arbitraries shared by the codec tests (test support only; imported by *.test.ts).
import fc from 'fast-check';
import type { FieldTable, FieldValue } from '../../../core/message.js';
import type { AmqpArgType } from './generated/methods.js';
import type { BasicProperties } from './generated/basic-properties.js';

/** Strings that survive UTF-8 and fit a shortstr. */
export const shortstrArb: fc.Arbitrary<string> = fc
  .oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant('x'.repeat(255)))
  .filter((s) => Buffer.byteLength(s) <= 255 && Buffer.from(s, 'utf8').toString('utf8') === s);

export const bufferArb: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

const leaves: Array<fc.Arbitrary<FieldValue>> = [
  fc.boolean().map((value) => ({ type: 'bool', value }) as const),
  fc.integer({ min: -0x80, max: 0x7f }).map((value) => ({ type: 'int8', value }) as const),
  fc.integer({ min: 0, max: 0xff }).map((value) => ({ type: 'uint8', value }) as const),
  fc.integer({ min: -0x8000, max: 0x7fff }).map((value) => ({ type: 'int16', value }) as const),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ type: 'uint16', value }) as const),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((value) => ({ type: 'int32', value }) as const),
  fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ type: 'uint32', value }) as const),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((value) => ({ type: 'int64', value }) as const),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value) => ({ type: 'timestamp', value }) as const),
  fc.float().map((value) => ({ type: 'float', value }) as const),
  fc.double().map((value) => ({ type: 'double', value }) as const),
  fc.record({ scale: fc.integer({ min: 0, max: 255 }), value: fc.integer({ min: 0, max: 0xffffffff }) }).map((d) => ({ type: 'decimal', ...d }) as const),
  bufferArb.map((value) => ({ type: 'longstr', value }) as const),
  bufferArb.map((value) => ({ type: 'bytes', value }) as const),
  fc.constant({ type: 'void' } as const),
];

/** Every field type the codec round-trips losslessly, nested tables and arrays included. */
export const fieldArbs = fc.letrec<{ value: FieldValue; table: FieldTable; array: FieldValue[] }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    ...leaves,
    tie('table').map((value) => ({ type: 'table', value }) as const),
    tie('array').map((value) => ({ type: 'array', value }) as const),
  ),
  table: fc.array(fc.tuple(shortstrArb, tie('value')), { maxLength: 6 }),
  array: fc.array(tie('value'), { maxLength: 6 }),
}));

export const fieldTableArb: fc.Arbitrary<FieldTable> = fieldArbs.table;

export function argArb(type: AmqpArgType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'bit':
      return fc.boolean();
    case 'octet':
      return fc.integer({ min: 0, max: 0xff });
    case 'short':
      return fc.integer({ min: 0, max: 0xffff });
    case 'long':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'longlong':
    case 'timestamp':
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 'shortstr':
      return shortstrArb;
    case 'longstr':
      return bufferArb;
    case 'table':
      return fieldTableArb;
  }
}

export const basicPropertiesArb: fc.Arbitrary<BasicProperties> = fc.record(
  {
    contentType: shortstrArb,
    contentEncoding: shortstrArb,
    headers: fieldTableArb,
    deliveryMode: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortstrArb,
    replyTo: shortstrArb,
    expiration: shortstrArb,
    messageId: shortstrArb,
    timestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    type: shortstrArb,
    userId: shortstrArb,
    appId: shortstrArb,
    clusterId: shortstrArb,
  },
  { requiredKeys: [] },
);
