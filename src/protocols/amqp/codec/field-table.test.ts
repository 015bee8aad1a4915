import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FieldTable, FieldValue } from '../../../core/message.js';
import { AmqpDecodeError, AmqpEncodeError } from './decode-error.js';
import { decodeFieldTable, decodeFieldTableEntries, encodeFieldTable } from './field-table.js';
import { AmqpCodecLimits } from './limits.js';
import { fieldArbs, fieldTableArb } from './test-arbitraries.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A table holding one entry named "k" whose value bytes (tag + value) are given. */
const oneEntry = (valueHex: string) => {
  const v = hex(valueHex);
  const body = Buffer.concat([Buffer.from([1, 0x6b]), v]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
const decode1 = (valueHex: string): FieldValue => {
  const t = decodeFieldTable(oneEntry(valueHex));
  assert.equal(t.length, 1);
  assert.equal(t[0]![0], 'k');
  return t[0]![1];
};
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AmqpDecodeError, `expected AmqpDecodeError, got ${String(err)}`);
    return err.replyCode;
  }
  assert.fail('expected a throw');
};

describe('AMQP field tables', () => {
  test('round trip: every type, nested tables and arrays (property)', () => {
    fc.assert(
      fc.property(fieldTableArb, (table) => {
        assert.deepStrictEqual(decodeFieldTable(encodeFieldTable(table)), table);
      }),
      { numRuns: 400 },
    );
  });

  test('round trip: arrays of every type', () => {
    fc.assert(
      fc.property(fieldArbs.array, (items) => {
        const table: FieldTable = [['a', { type: 'array', value: items }]];
        assert.deepStrictEqual(decodeFieldTable(encodeFieldTable(table)), table);
      }),
      { numRuns: 200 },
    );
  });

  test('RabbitMQ type letters decode to the typed core values (hand-checked bytes)', () => {
    assert.deepStrictEqual(decode1('74 01'), { type: 'bool', value: true });
    assert.deepStrictEqual(decode1('74 00'), { type: 'bool', value: false });
    assert.deepStrictEqual(decode1('62 ff'), { type: 'int8', value: -1 });
    assert.deepStrictEqual(decode1('42 ff'), { type: 'uint8', value: 255 });
    assert.deepStrictEqual(decode1('73 ff fe'), { type: 'int16', value: -2 }); // RMQ: s = int16, not a shortstr
    assert.deepStrictEqual(decode1('75 ff fe'), { type: 'uint16', value: 65534 });
    assert.deepStrictEqual(decode1('49 ff ff ff fd'), { type: 'int32', value: -3 });
    assert.deepStrictEqual(decode1('69 ff ff ff fd'), { type: 'uint32', value: 0xfffffffd });
    assert.deepStrictEqual(decode1('6c ff ff ff ff ff ff ff fc'), { type: 'int64', value: -4n });
    assert.deepStrictEqual(decode1('4c ff ff ff ff ff ff ff fc'), { type: 'int64', value: -4n }); // L read as signed int64
    assert.deepStrictEqual(decode1('64 3f f8 00 00 00 00 00 00'), { type: 'double', value: 1.5 });
    assert.deepStrictEqual(decode1('66 3f c0 00 00'), { type: 'float', value: 1.5 });
    assert.deepStrictEqual(decode1('44 02 00 00 04 d2'), { type: 'decimal', scale: 2, value: 1234 });
    assert.deepStrictEqual(decode1('53 00 00 00 02 68 69'), { type: 'longstr', value: Buffer.from('hi') });
    assert.deepStrictEqual(decode1('78 00 00 00 02 00 ff'), { type: 'bytes', value: Buffer.from([0, 0xff]) });
    assert.deepStrictEqual(decode1('54 00 00 00 00 5f 5e 10 00'), { type: 'timestamp', value: 1600000000n });
    assert.deepStrictEqual(decode1('56'), { type: 'void' });
    assert.deepStrictEqual(decode1('46 00 00 00 04 01 61 74 01'), { type: 'table', value: [['a', { type: 'bool', value: true }]] });
    assert.deepStrictEqual(decode1('41 00 00 00 05 62 01 42 02 56'), {
      type: 'array',
      value: [{ type: 'int8', value: 1 }, { type: 'uint8', value: 2 }, { type: 'void' }],
    });
  });

  test('encoding: tags and bytes as RabbitMQ writes them', () => {
    const enc = (v: FieldValue) => encodeFieldTable([['k', v]]).subarray(6).toString('hex');
    assert.equal(enc({ type: 'int16', value: -2 }), '73fffe');
    assert.equal(enc({ type: 'int64', value: 5n }), '6c0000000000000005');
    assert.equal(enc({ type: 'uint32', value: 7 }), '6900000007');
    assert.equal(enc({ type: 'int32', value: 7 }), '4900000007');
    // Never U, L or a shortstr value: shortstr goes out as S, uint64 as l.
    assert.equal(enc({ type: 'shortstr', value: Buffer.from('ab') }), '53000000026162');
    assert.equal(enc({ type: 'uint64', value: 9n }), '6c0000000000000009');
    assert.deepStrictEqual(decodeFieldTable(encodeFieldTable([['k', { type: 'shortstr', value: Buffer.from('ab') }]])), [
      ['k', { type: 'longstr', value: Buffer.from('ab') }],
    ]);
    assert.equal(encodeFieldTable([]).toString('hex'), '00000000');
    assert.equal(encodeFieldTable([['a', { type: 'bool', value: true }]]).toString('hex'), '0000000401617401');
  });

  test('encode refuses values the wire cannot carry', () => {
    const bad: FieldValue[] = [
      { type: 'uint64', value: 1n << 63n },
      { type: 'int8', value: 128 },
      { type: 'uint16', value: -1 },
      { type: 'int32', value: 1.5 },
      { type: 'timestamp', value: -1n },
      { type: 'decimal', scale: 256, value: 0 },
    ];
    for (const v of bad) assert.throws(() => encodeFieldTable([['k', v]]), AmqpEncodeError, JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x)));
    assert.throws(() => encodeFieldTable([['n'.repeat(256), { type: 'void' }]]), AmqpEncodeError);
  });

  test('nesting depth is bounded on decode and encode', () => {
    let t: FieldTable = [];
    for (let i = 0; i < AmqpCodecLimits.fieldTableDepthMax - 1; i++) t = [['t', { type: 'table', value: t }]];
    const ok = encodeFieldTable(t);
    assert.deepStrictEqual(decodeFieldTable(ok), t);
    const deeper: FieldTable = [['t', { type: 'table', value: t }]];
    assert.throws(() => encodeFieldTable(deeper), AmqpEncodeError);
    // Hand-build the deeper encoding: 'F' + the valid encoding, wrapped in a table.
    const inner = Buffer.concat([Buffer.from([1, 0x74, 0x46]), ok]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(inner.length);
    assert.equal(code(() => decodeFieldTable(Buffer.concat([len, inner]))), 502);
    // Arrays count too; a hostile 100 000-deep array is refused, not a stack overflow.
    const n = 100_000;
    const deepArr = Buffer.alloc(n * 5);
    for (let i = 0; i < n; i++) {
      deepArr[i * 5] = 0x41;
      deepArr.writeUInt32BE(deepArr.length - i * 5 - 5, i * 5 + 1);
    }
    assert.equal(code(() => decodeFieldTable(oneEntry(deepArr.toString('hex')))), 502);
  });

  test('malformed tables: 502, never an over-read', () => {
    assert.equal(code(() => decode1('7a 00')), 502); // unknown tag cannot be skipped
    assert.equal(code(() => decode1('55 00 01')), 502); // U (spec int16) is not read by RabbitMQ
    assert.equal(code(() => decodeFieldTable(hex('00 00 00 09 01 6b'))), 502); // length past end
    assert.equal(code(() => decodeFieldTable(hex('00 00 00 03 01 6b 49'))), 502); // value runs past the table
    assert.equal(code(() => decodeFieldTable(hex('00 00 00 02 05 6b'))), 502); // name runs past the table
    assert.equal(code(() => decode1('53 ff ff ff ff 00')), 502); // 4 GiB longstr claim, no allocation
    assert.equal(code(() => decode1('41 00 00 00 02 49 00')), 502); // array item past the array
    assert.equal(code(() => decodeFieldTable(hex('00 00'))), 502);
    assert.equal(code(() => decodeFieldTable(hex('00 00 00 00 00'))), 502); // trailing byte
  });

  test('AMQPLAIN response: entries without the length prefix', () => {
    const body = encodeFieldTable([
      ['LOGIN', { type: 'longstr', value: Buffer.from('guest') }],
      ['PASSWORD', { type: 'longstr', value: Buffer.from('guest') }],
    ]).subarray(4);
    assert.deepStrictEqual(decodeFieldTableEntries(body), [
      ['LOGIN', { type: 'longstr', value: Buffer.from('guest') }],
      ['PASSWORD', { type: 'longstr', value: Buffer.from('guest') }],
    ]);
  });
});
