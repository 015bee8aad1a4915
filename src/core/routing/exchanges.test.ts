import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { FieldTable, FieldValue } from '../message.js';
import type { Destination } from './destination.js';
import { DirectExchange } from './direct-exchange.js';
import { FanoutExchange } from './fanout-exchange.js';
import { TopicExchange } from './topic-exchange.js';
import { HeadersExchange, headersMatch } from './headers-exchange.js';
import { fieldValuesEqual } from './field-value-equals.js';
import type { Exchange } from './exchange.js';

const q = (name: string): Destination => ({ kind: 'queue', name });
const names = (x: Exchange, key: string, headers?: FieldTable) => {
  const out = new Set<Destination>();
  x.route(key, headers, out);
  return [...out].map((d) => d.name).sort();
};
const ls = (s: string): FieldValue => ({ type: 'longstr', value: Buffer.from(s) });
const ss = (s: string): FieldValue => ({ type: 'shortstr', value: Buffer.from(s) });
const i32 = (n: number): FieldValue => ({ type: 'int32', value: n });

describe('exchange kinds', () => {
  test('common fields and alternate-exchange', () => {
    const x = new DirectExchange('x', { durable: true, autoDelete: true, internal: true, arguments: [['alternate-exchange', ls('ae')]] });
    assert.equal(x.type, 'direct');
    assert.equal(x.durable, true);
    assert.equal(x.autoDelete, true);
    assert.equal(x.internal, true);
    assert.equal(x.alternateExchange, 'ae');
    assert.equal(new FanoutExchange('f').alternateExchange, undefined);
    assert.throws(
      () => new TopicExchange('t', { arguments: [['alternate-exchange', i32(1)]] }),
      (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.PreconditionFailed && /invalid type 'int32' for arg 'alternate-exchange'/.test(e.message),
    );
  });

  test('direct: exact key, ref-counted bindings', () => {
    const x = new DirectExchange('d');
    const a = q('a');
    const b = q('b');
    x.bind(a, 'k', []);
    x.bind(a, 'k', [['x', i32(1)]]);
    x.bind(b, 'k', []);
    x.bind(b, 'other', []);
    assert.deepStrictEqual(names(x, 'k'), ['a', 'b']);
    assert.deepStrictEqual(names(x, 'K'), []);
    assert.deepStrictEqual(names(x, ''), []);
    assert.equal(x.unbind(a, 'k', []), true);
    assert.deepStrictEqual(names(x, 'k'), ['a', 'b']);
    assert.equal(x.unbind(a, 'k', [['x', i32(1)]]), true);
    assert.equal(x.unbind(a, 'k', []), false);
    assert.deepStrictEqual(names(x, 'k'), ['b']);
  });

  test('fanout: every destination once', () => {
    const x = new FanoutExchange('f');
    const a = q('a');
    x.bind(a, 'k1', []);
    x.bind(a, 'k2', []);
    x.bind(q('b'), '', []);
    assert.deepStrictEqual(names(x, 'anything'), ['a', 'b']);
    x.unbind(a, 'k1', []);
    assert.deepStrictEqual(names(x, ''), ['a', 'b']);
    x.unbind(a, 'k2', []);
    assert.deepStrictEqual(names(x, ''), ['b']);
  });

  test('topic: wildcards', () => {
    const x = new TopicExchange('t');
    x.bind(q('all'), '#', []);
    x.bind(q('star'), 'a.*', []);
    x.bind(q('exact'), 'a.b', []);
    x.bind(q('mid'), 'a.#.z', []);
    assert.deepStrictEqual(names(x, 'a.b'), ['all', 'exact', 'star']);
    assert.deepStrictEqual(names(x, 'a.b.z'), ['all', 'mid']);
    assert.deepStrictEqual(names(x, 'a.z'), ['all', 'mid', 'star']);
    assert.deepStrictEqual(names(x, ''), ['all']);
    x.unbind(q('all'), '#', []); // a different object: identity matters, nothing removed
    assert.deepStrictEqual(names(x, ''), ['all']);
  });

  test('headers: x-match all / any and defaults', () => {
    const x = new HeadersExchange('h');
    x.bind(q('all'), '', [['format', ls('pdf')], ['type', ls('report')]]);
    x.bind(q('allx'), '', [['x-match', ls('all')], ['format', ls('pdf')], ['type', ls('report')]]);
    x.bind(q('any'), '', [['x-match', ls('any')], ['format', ls('pdf')], ['type', ls('log')]]);
    x.bind(q('empty'), '', []);
    x.bind(q('emptyany'), '', [['x-match', ls('any')]]);
    assert.deepStrictEqual(names(x, '', [['format', ls('pdf')], ['type', ls('report')]]), ['all', 'allx', 'any', 'empty']);
    assert.deepStrictEqual(names(x, '', [['format', ls('pdf')]]), ['any', 'empty']);
    assert.deepStrictEqual(names(x, '', [['type', ls('log')]]), ['any', 'empty']);
    assert.deepStrictEqual(names(x, '', undefined), ['empty']);
    assert.deepStrictEqual(names(x, 'ignored', [['format', ss('zip')]]), ['empty']);
  });

  test('headers: x- arguments ignored except with -with-x; void means presence', () => {
    const x = new HeadersExchange('h');
    x.bind(q('plain'), '', [['x-tenant', ls('a')], ['k', ls('v')]]);
    x.bind(q('withx'), '', [['x-match', ls('all-with-x')], ['x-tenant', ls('a')], ['k', ls('v')]]);
    x.bind(q('anyx'), '', [['x-match', ls('any-with-x')], ['x-tenant', ls('a')]]);
    x.bind(q('presence'), '', [['x-match', ls('all')], ['flag', { type: 'void' }]]);
    assert.deepStrictEqual(names(x, '', [['k', ls('v')]]), ['plain']);
    assert.deepStrictEqual(names(x, '', [['k', ls('v')], ['x-tenant', ls('a')]]), ['anyx', 'plain', 'withx']);
    assert.deepStrictEqual(names(x, '', [['x-tenant', ls('b')], ['k', ls('v')]]), ['plain']);
    assert.deepStrictEqual(names(x, '', [['flag', i32(0)]]), ['presence']);
    assert.deepStrictEqual(names(x, '', [['flag', { type: 'void' }]]), ['presence']);
    assert.deepStrictEqual(names(x, '', [['flag2', i32(0)]]), []);
  });

  test('headers: typed value equality', () => {
    const x = new HeadersExchange('h');
    x.bind(q('num'), '', [['n', i32(1)]]);
    x.bind(q('str'), '', [['s', ls('1')]]);
    x.bind(q('bool'), '', [['b', { type: 'bool', value: true }]]);
    assert.deepStrictEqual(names(x, '', [['n', { type: 'int64', value: 1n }]]), ['num']);
    assert.deepStrictEqual(names(x, '', [['n', { type: 'double', value: 1.0 }]]), ['num']);
    assert.deepStrictEqual(names(x, '', [['n', { type: 'double', value: 1.5 }]]), []);
    assert.deepStrictEqual(names(x, '', [['n', ls('1')]]), []);
    assert.deepStrictEqual(names(x, '', [['s', ss('1')]]), ['str']);
    assert.deepStrictEqual(names(x, '', [['s', i32(1)]]), []);
    assert.deepStrictEqual(names(x, '', [['b', { type: 'bool', value: true }]]), ['bool']);
    assert.deepStrictEqual(names(x, '', [['b', ls('true')]]), []);
  });

  test('fieldValuesEqual: nested tables and arrays compare types', () => {
    const t1: FieldValue = { type: 'table', value: [['a', i32(1)], ['s', ls('x')]] };
    const t2: FieldValue = { type: 'table', value: [['a', i32(1)], ['s', ss('x')]] };
    const t3: FieldValue = { type: 'table', value: [['a', { type: 'int64', value: 1n }], ['s', ls('x')]] };
    assert.equal(fieldValuesEqual(t1, t2), true);
    assert.equal(fieldValuesEqual(t1, t3), false);
    assert.equal(fieldValuesEqual({ type: 'array', value: [i32(1)] }, { type: 'array', value: [i32(1)] }), true);
    assert.equal(fieldValuesEqual({ type: 'array', value: [i32(1)] }, { type: 'array', value: [i32(1), i32(1)] }), false);
    assert.equal(fieldValuesEqual({ type: 'decimal', scale: 2, value: 5 }, { type: 'decimal', scale: 2, value: 5 }), true);
    assert.equal(fieldValuesEqual({ type: 'decimal', scale: 1, value: 5 }, { type: 'decimal', scale: 2, value: 5 }), false);
    assert.equal(fieldValuesEqual({ type: 'double', value: NaN }, { type: 'double', value: NaN }), false);
    assert.equal(fieldValuesEqual({ type: 'void' }, { type: 'void' }), true);
    assert.equal(fieldValuesEqual({ type: 'timestamp', value: 5n }, i32(5)), true);
  });

  test('headers: bad x-match is refused; unbind finds the binding by args regardless of order', () => {
    const x = new HeadersExchange('h');
    for (const args of [[['x-match', ls('some')]], [['x-match', i32(1)]]] as FieldTable[]) {
      assert.throws(() => x.validateBinding('', args), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.PreconditionFailed);
    }
    const a = q('a');
    x.bind(a, '', [['p', ls('1')], ['r', ls('2')]]);
    assert.equal(x.unbind(a, '', [['r', ls('2')]]), false);
    assert.equal(x.unbind(a, '', [['r', ls('2')], ['p', ls('1')]]), true);
    assert.deepStrictEqual(names(x, '', [['p', ls('1')], ['r', ls('2')]]), []);
    assert.equal(headersMatch(false, [], undefined), true);
    assert.equal(headersMatch(true, [], undefined), false);
  });
});
