import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BrokerError, ErrorCode } from '../lib/errors.js';
import { decodeBatch, encodeBatch, type Record } from '../storage/log/record-batch.js';
import type { FieldTable, FieldValue, Message, MessageProperties } from './message.js';
import { interopWarningCounts } from './interop-warnings.js';
import {
  addXDeath,
  decodeFieldTable,
  decodeMessage,
  decodeMessageStrict,
  encodeFieldTable,
  encodeMessage,
  encodeProperties,
  FIELD_NESTING_DEPTH_MAX,
  fieldTableFromJson,
  fieldTableToJson,
  findField,
  fieldString,
  messageSizeBytes,
  PROPERTIES_HEADER_KEY,
  withHeader,
} from './message-codec.js';

const buf = (max = 40) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const str = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constant(''));

const fieldValue: fc.Arbitrary<FieldValue> = fc.letrec<{ v: FieldValue; t: FieldTable }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<FieldValue>({ type: 'void' }),
    fc.boolean().map((value): FieldValue => ({ type: 'bool', value })),
    fc.integer({ min: -128, max: 127 }).map((value): FieldValue => ({ type: 'int8', value })),
    fc.integer({ min: 0, max: 255 }).map((value): FieldValue => ({ type: 'uint8', value })),
    fc.integer({ min: -32768, max: 32767 }).map((value): FieldValue => ({ type: 'int16', value })),
    fc.integer({ min: 0, max: 65535 }).map((value): FieldValue => ({ type: 'uint16', value })),
    fc.integer().map((value): FieldValue => ({ type: 'int32', value })),
    fc.integer({ min: 0, max: 0xffffffff }).map((value): FieldValue => ({ type: 'uint32', value })),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((value): FieldValue => ({ type: 'int64', value })),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value): FieldValue => ({ type: 'uint64', value })),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value): FieldValue => ({ type: 'timestamp', value })),
    fc.float().map((value): FieldValue => ({ type: 'float', value })),
    fc.double().map((value): FieldValue => ({ type: 'double', value })),
    fc.record({ scale: fc.integer({ min: 0, max: 255 }), value: fc.integer() }).map((d): FieldValue => ({ type: 'decimal', ...d })),
    buf().map((value): FieldValue => ({ type: 'shortstr', value })),
    buf().map((value): FieldValue => ({ type: 'longstr', value })),
    buf().map((value): FieldValue => ({ type: 'bytes', value })),
    tie('t').map((value): FieldValue => ({ type: 'table', value })),
    fc.array(tie('v'), { maxLength: 4 }).map((value): FieldValue => ({ type: 'array', value })),
  ),
  t: fc.array(fc.tuple(str, tie('v')), { maxLength: 4 }),
})).v;
const fieldTable: fc.Arbitrary<FieldTable> = fc.array(fc.tuple(str, fieldValue), { maxLength: 5 });

const properties: fc.Arbitrary<MessageProperties> = fc.record(
  {
    contentType: str,
    contentEncoding: str,
    correlationId: str,
    replyTo: str,
    messageId: str,
    type: str,
    userId: str,
    appId: str,
    clusterId: str,
    priority: fc.integer({ min: 0, max: 255 }),
    expirationMs: fc.oneof(fc.nat(), fc.double()),
    persistent: fc.boolean(),
    timestampMs: fc.oneof(fc.nat(), fc.double()),
    headers: fieldTable,
  },
  { requiredKeys: [] },
).map((p) => ({ ...p })); // fc.record builds null-prototype objects

const userHeaderKey = str.filter((k) => !k.startsWith('jx.'));
const message: fc.Arbitrary<Message> = fc
  .record({
    key: fc.option(buf(), { nil: null }),
    value: fc.option(buf(100), { nil: null }),
    timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
    headers: fc.array(fc.record({ key: userHeaderKey, value: fc.option(buf(), { nil: null }) }).map((h) => ({ ...h })), { maxLength: 3 }),
    properties,
    exchange: fc.option(str, { nil: undefined }),
    routingKey: fc.option(str, { nil: undefined }),
  })
  .map((m) => {
    const out: Message = { key: m.key, value: m.value, timestamp: m.timestamp, headers: m.headers, properties: m.properties };
    if (m.exchange !== undefined) out.exchange = m.exchange;
    if (m.routingKey !== undefined) out.routingKey = m.routingKey;
    return out;
  });

function asRecord(m: Message): Record {
  const r = encodeMessage(m);
  return { offset: 0, timestamp: r.timestamp, key: r.key, value: r.value, headers: [...(r.headers ?? [])] };
}

function assertOnlyBrokerError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BrokerError, `expected BrokerError, got ${String(e)}`);
    assert.equal(e.code, ErrorCode.CorruptData);
  }
}

describe('message codec', () => {
  test('decode(encode(m)) deep-equals m', () => {
    fc.assert(
      fc.property(message, (m) => {
        assert.deepStrictEqual(decodeMessage(asRecord(m)), m);
      }),
      { numRuns: 1500 },
    );
  });

  test('round trip through a real RecordBatch', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (ms) => {
        const records = decodeBatch(encodeBatch(ms.map(encodeMessage)));
        assert.deepStrictEqual(records.map(decodeMessage), ms);
      }),
      { numRuns: 200 },
    );
  });

  test('a message without properties, exchange or routing key gets no reserved header', () => {
    const m: Message = { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 5, headers: [{ key: 'a', value: null }], properties: {} };
    const r = encodeMessage(m);
    assert.deepStrictEqual(r.headers, [{ key: 'a', value: null }]);
    assert.equal(encodeProperties(m), null);
    assert.equal(messageSizeBytes(m), 3);
    const withEx = encodeMessage({ ...m, exchange: '' });
    assert.equal(withEx.headers![0]!.key, PROPERTIES_HEADER_KEY);
    assert.equal(withEx.headers!.length, 2);
    assert.deepStrictEqual(decodeMessage(asRecord({ ...m, exchange: '' })).exchange, '');
    assert.ok(messageSizeBytes({ ...m, exchange: '' }) > 3);
  });

  test('user headers with the reserved prefix are rejected', () => {
    const m: Message = { key: null, value: null, timestamp: 0, headers: [{ key: 'jx.p', value: Buffer.alloc(0) }], properties: {} };
    assert.throws(() => encodeMessage(m), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.InvalidArgument);
  });

  test('unencodable values are InvalidArgument', () => {
    const base: Message = { key: null, value: null, timestamp: 0, headers: [], properties: {} };
    const bad: MessageProperties[] = [
      { priority: 256 },
      { priority: 1.5 },
      { headers: [['a', { type: 'int8', value: 200 }]] },
      { headers: [['a', { type: 'uint64', value: -1n }]] },
      { headers: [['a', { type: 'int64', value: 1n << 63n }]] },
      { headers: [['a', { type: 'decimal', scale: 256, value: 1 }]] },
    ];
    for (const p of bad) {
      assert.throws(() => encodeMessage({ ...base, properties: p }), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.InvalidArgument);
    }
    // the deepest nesting allowed round-trips; one more level is refused
    let ok: FieldValue = { type: 'void' };
    for (let i = 1; i < FIELD_NESTING_DEPTH_MAX; i++) ok = { type: i % 2 ? 'array' : 'table', value: i % 2 ? [ok] : [['n', ok]] } as FieldValue;
    const okMsg: Message = { ...base, properties: { headers: [['d', ok]] } };
    assert.deepStrictEqual(decodeMessage(asRecord(okMsg)), okMsg);
    assert.throws(() => encodeMessage({ ...base, properties: { headers: [['d', { type: 'array', value: [ok] }]] } }), BrokerError);
    let deep: FieldValue = { type: 'void' };
    for (let i = 0; i < 100; i++) deep = { type: 'array', value: [deep] };
    assert.throws(() => encodeMessage({ ...base, properties: { headers: [['d', deep]] } }), BrokerError);
  });

  test('mutated reserved headers throw nothing but BrokerError(CorruptData)', () => {
    const withProps = message.filter((m) => encodeProperties(m) !== null);
    fc.assert(
      fc.property(
        withProps,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        (m, mutations, cut) => {
          const rec = asRecord(m);
          let v = Buffer.from(rec.headers[0]!.value!);
          for (const [at, byte] of mutations) v[at % v.length] = byte;
          if (cut !== undefined) v = v.subarray(0, cut % (v.length + 1));
          rec.headers[0] = { key: PROPERTIES_HEADER_KEY, value: v };
          assertOnlyBrokerError(() => decodeMessageStrict(rec));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('truncations at every length and random bytes', () => {
    const m: Message = {
      key: null,
      value: null,
      timestamp: 1,
      headers: [],
      properties: { contentType: 'text/plain', headers: [['t', { type: 'table', value: [['a', { type: 'array', value: [{ type: 'int64', value: 7n }] }]] }]] },
      routingKey: 'rk',
    };
    const v = encodeProperties(m)!;
    for (let n = 0; n < v.length; n++) {
      const rec: Record = { offset: 0, timestamp: 1, key: null, value: null, headers: [{ key: PROPERTIES_HEADER_KEY, value: v.subarray(0, n) }] };
      assert.throws(() => decodeMessageStrict(rec), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.CorruptData);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const b = Buffer.from(bytes);
        if (b.length > 0) b[0] = 1; // valid version, random rest
        assertOnlyBrokerError(() => decodeMessageStrict({ offset: 0, timestamp: 0, key: null, value: null, headers: [{ key: PROPERTIES_HEADER_KEY, value: b }] }));
      }),
      { numRuns: 2000 },
    );
    // a huge declared count must not allocate
    const huge = Buffer.from([1, 0x20, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert.throws(() => decodeMessageStrict({ offset: 0, timestamp: 0, key: null, value: null, headers: [{ key: PROPERTIES_HEADER_KEY, value: huge }] }), BrokerError);
    // null value, duplicate header
    assert.throws(() => decodeMessageStrict({ offset: 0, timestamp: 0, key: null, value: null, headers: [{ key: PROPERTIES_HEADER_KEY, value: null }] }), BrokerError);
    assert.throws(
      () => decodeMessageStrict({ offset: 0, timestamp: 0, key: null, value: null, headers: [{ key: PROPERTIES_HEADER_KEY, value: v }, { key: PROPERTIES_HEADER_KEY, value: v }] }),
      BrokerError,
    );
  });

  test('a record with a bad reserved header decodes as a plain record (properties dropped, counted), never throws', () => {
    const before = interopWarningCounts()['corrupt-properties'];
    const bad = [Buffer.from('garbage'), Buffer.from([1, 0x20, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]), null];
    for (const value of bad) {
      const rec: Record = { offset: 7, timestamp: 5, key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ key: 'a', value: Buffer.from('1') }, { key: PROPERTIES_HEADER_KEY, value }] };
      assert.throws(() => decodeMessageStrict(rec), BrokerError);
      const m = decodeMessage(rec);
      assert.deepStrictEqual(m, { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 5, headers: [{ key: 'a', value: Buffer.from('1') }], properties: {} });
    }
    assert.equal(interopWarningCounts()['corrupt-properties'], before + bad.length);
  });

  test('other jx. headers are dropped on decode; the reserved header can sit anywhere', () => {
    const v = encodeProperties({ key: null, value: null, timestamp: 0, headers: [], properties: { priority: 3 } })!;
    const m = decodeMessage({
      offset: 0,
      timestamp: 0,
      key: null,
      value: null,
      headers: [
        { key: 'a', value: null },
        { key: 'jx.future', value: Buffer.from('x') },
        { key: PROPERTIES_HEADER_KEY, value: v },
      ],
    });
    assert.deepStrictEqual(m.headers, [{ key: 'a', value: null }]);
    assert.deepStrictEqual(m.properties, { priority: 3 });
  });

  test('field tables encode on their own and through JSON', () => {
    fc.assert(
      fc.property(fieldTable, (t) => {
        assert.deepStrictEqual(decodeFieldTable(encodeFieldTable(t)), t);
        assert.deepStrictEqual(fieldTableFromJson(JSON.parse(JSON.stringify(fieldTableToJson(t)))), t);
      }),
      { numRuns: 500 },
    );
    const specials: FieldTable = [NaN, Infinity, -Infinity, -0, 0, 1.5].map((value, i) => [`d${i}`, { type: i % 2 ? 'float' : 'double', value }]);
    assert.deepStrictEqual(fieldTableFromJson(JSON.parse(JSON.stringify(fieldTableToJson(specials)))), specials);
    assert.throws(() => fieldTableFromJson([['a', { type: 'int8', value: 1000 }]]), BrokerError);
    assert.throws(() => fieldTableFromJson([['a', { type: 'double', value: 'abc' }]]), BrokerError);
    assert.throws(() => fieldTableFromJson({}), BrokerError);
  });
});

describe('withHeader / addXDeath', () => {
  const base: Message = {
    key: null,
    value: Buffer.from('body'),
    timestamp: 1000,
    headers: [],
    properties: { expirationMs: 5000, headers: [['h', { type: 'longstr', value: Buffer.from('1') }]] },
    exchange: 'ex',
    routingKey: 'rk',
  };

  test('withHeader replaces or appends without touching the original', () => {
    const a = withHeader(base, 'n', { type: 'int32', value: 1 });
    assert.deepStrictEqual(a.properties.headers!.map((e) => e[0]), ['h', 'n']);
    const b = withHeader(a, 'h', { type: 'bool', value: true });
    assert.deepStrictEqual(b.properties.headers![0], ['h', { type: 'bool', value: true }]);
    assert.equal(base.properties.headers!.length, 1);
    const c = withHeader({ ...base, properties: {} }, 'x', { type: 'void' });
    assert.deepStrictEqual(c.properties.headers, [['x', { type: 'void' }]]);
  });

  const deaths = (m: Message) => {
    const x = findField(m.properties.headers, 'x-death');
    assert.ok(x && x.type === 'array');
    return x.value.map((e) => {
      assert.equal(e.type, 'table');
      return (e as { value: FieldTable }).value;
    });
  };
  const s = (t: FieldTable | undefined, k: string) => fieldString(findField(t, k));

  test('first death: entry, x-first/last-death headers, expiration moved', () => {
    const m = addXDeath(base, { queue: 'q1', reason: 'expired', exchange: 'ex', routingKeys: ['rk', 'cc'], timeMs: 1_700_000_000_999 });
    assert.equal(m.properties.expirationMs, undefined);
    assert.equal(base.properties.expirationMs, 5000);
    const [e, ...rest] = deaths(m);
    assert.equal(rest.length, 0);
    assert.deepStrictEqual(findField(e, 'count'), { type: 'int64', value: 1n });
    assert.equal(s(e, 'reason'), 'expired');
    assert.equal(s(e, 'queue'), 'q1');
    assert.equal(s(e, 'exchange'), 'ex');
    assert.deepStrictEqual(findField(e, 'time'), { type: 'timestamp', value: 1_700_000_000n });
    assert.deepStrictEqual(findField(e, 'routing-keys'), {
      type: 'array',
      value: [{ type: 'longstr', value: Buffer.from('rk') }, { type: 'longstr', value: Buffer.from('cc') }],
    });
    assert.equal(s(e, 'original-expiration'), '5000');
    const h = m.properties.headers;
    assert.equal(h![0]![0], 'x-death');
    assert.equal(s(h, 'h'), '1');
    for (const p of ['first', 'last']) {
      assert.equal(s(h, `x-${p}-death-queue`), 'q1');
      assert.equal(s(h, `x-${p}-death-reason`), 'expired');
      assert.equal(s(h, `x-${p}-death-exchange`), 'ex');
    }
  });

  test('repeated deaths: same queue+reason increments and moves to front; first-death kept', () => {
    let m = addXDeath(base, { queue: 'q1', reason: 'rejected', exchange: 'ex', routingKeys: ['rk'], timeMs: 1000 });
    m = addXDeath(m, { queue: 'q2', reason: 'expired', exchange: 'dlx', routingKeys: ['k2'], timeMs: 2000 });
    let d = deaths(m);
    assert.deepStrictEqual(d.map((e) => s(e, 'queue')), ['q2', 'q1']);
    assert.equal(findField(d[0], 'original-expiration'), undefined); // expiration was already removed
    m = addXDeath(m, { queue: 'q1', reason: 'rejected', exchange: 'dlx', routingKeys: ['k3'], timeMs: 3000 });
    d = deaths(m);
    assert.deepStrictEqual(d.map((e) => s(e, 'queue')), ['q1', 'q2']);
    assert.deepStrictEqual(findField(d[0], 'count'), { type: 'int64', value: 2n });
    assert.equal(s(d[0], 'exchange'), 'ex'); // other fields of the entry are kept
    m = addXDeath(m, { queue: 'q1', reason: 'expired', exchange: 'dlx', routingKeys: ['k'], timeMs: 4000 });
    d = deaths(m);
    assert.deepStrictEqual(d.map((e) => `${s(e, 'queue')}/${s(e, 'reason')}`), ['q1/expired', 'q1/rejected', 'q2/expired']);
    const h = m.properties.headers;
    assert.equal(s(h, 'x-first-death-queue'), 'q1');
    assert.equal(s(h, 'x-first-death-reason'), 'rejected');
    assert.equal(s(h, 'x-first-death-exchange'), 'ex');
    assert.equal(s(h, 'x-last-death-queue'), 'q1');
    assert.equal(s(h, 'x-last-death-reason'), 'expired');
    assert.equal(s(h, 'x-last-death-exchange'), 'dlx');
    assert.equal(h!.filter((e) => e[0] === 'x-last-death-queue').length, 1);
    // and it still encodes
    assert.deepStrictEqual(decodeMessage(asRecord(m)), m);
  });

  test('originalExpiration option wins over the property', () => {
    const m = addXDeath(base, { queue: 'q', reason: 'maxlen', exchange: '', routingKeys: ['q'], timeMs: 0, originalExpiration: 42 });
    assert.equal(s(deaths(m)[0], 'original-expiration'), '42');
    const n = addXDeath({ ...base, properties: {} }, { queue: 'q', reason: 'delivery_limit', exchange: '', routingKeys: [], timeMs: 0 });
    assert.equal(findField(deaths(n)[0], 'original-expiration'), undefined);
  });
});
