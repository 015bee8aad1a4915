import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { FieldTable, FieldValue } from '../message.js';
import { ExchangeRegistry, bindingMetaRecord, exchangeMetaRecord, newRouteResult } from './exchange-registry.js';

const ls = (s: string): FieldValue => ({ type: 'longstr', value: Buffer.from(s) });
const err = (code: string, re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BrokerError, String(e));
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};
const route = (r: ExchangeRegistry, x: string, key = '', headers?: FieldTable) => {
  const res = r.route(x, key, headers);
  return res.destinations.map((d) => `${d.kind}:${d.name}`).sort();
};
const Q = (name: string) => ({ kind: 'queue' as const, name });
const X = (name: string) => ({ kind: 'exchange' as const, name });

describe('ExchangeRegistry', () => {
  test('default exchange routes by queue name and cannot be touched', () => {
    const r = new ExchangeRegistry();
    r.addQueue('q1');
    r.addQueue('s1', 'stream');
    assert.deepStrictEqual(route(r, '', 'q1'), ['queue:q1']);
    assert.deepStrictEqual(route(r, '', 's1'), ['stream:s1']);
    assert.deepStrictEqual(route(r, '', 'nope'), []);
    assert.equal(r.route('', 'nope', undefined).exchangeFound, true);
    const denied = err(ErrorCode.AccessRefused, /operation not permitted on the default exchange/);
    assert.throws(() => r.declare('', 'direct'), denied);
    assert.throws(() => r.declarePassive(''), denied);
    assert.throws(() => r.delete(''), denied);
    assert.throws(() => r.bind('', Q('q1'), 'q1'), denied);
    assert.throws(() => r.unbind('', Q('q1'), 'q1'), denied);
    r.declare('x', 'fanout');
    assert.throws(() => r.bind('x', X('')), denied);
    assert.equal(r.lookup('')?.type, 'direct');
    assert.equal(r.list()[0]!.name, '');
  });

  test('standard amq.* exchanges exist, are durable, cannot be deleted; amq. names are reserved', () => {
    const r = new ExchangeRegistry('v1');
    for (const [n, t] of [['amq.direct', 'direct'], ['amq.fanout', 'fanout'], ['amq.topic', 'topic'], ['amq.headers', 'headers'], ['amq.match', 'headers']]) {
      const x = r.declarePassive(n!);
      assert.equal(x.type, t);
      assert.equal(x.durable, true);
      assert.throws(() => r.delete(n!), err(ErrorCode.AccessRefused, new RegExp(`deletion of system exchange '${n}' in vhost 'v1' not allowed`)));
    }
    assert.equal(r.declare('amq.topic', 'topic', { durable: true }).created, false);
    assert.throws(() => r.declare('amq.topic', 'topic'), err(ErrorCode.PreconditionFailed, /inequivalent arg 'durable'/));
    assert.throws(() => r.declare('amq.custom', 'direct'), err(ErrorCode.AccessRefused, /exchange name 'amq.custom' contains reserved prefix 'amq.\*'/));
  });

  test('declare: equivalence checks with RabbitMQ text; passive lookup', () => {
    const r = new ExchangeRegistry();
    const a = r.declare('x', 'direct', { durable: true });
    assert.equal(a.created, true);
    assert.equal(r.declare('x', 'direct', { durable: true }).exchange, a.exchange);
    assert.throws(
      () => r.declare('x', 'topic', { durable: true }),
      err(ErrorCode.PreconditionFailed, /^inequivalent arg 'type' for exchange 'x' in vhost '\/': received 'topic' but current is 'direct'$/),
    );
    assert.throws(() => r.declare('x', 'direct'), err(ErrorCode.PreconditionFailed, /received 'false' but current is 'true'/));
    assert.throws(() => r.declare('x', 'direct', { durable: true, autoDelete: true }), err(ErrorCode.PreconditionFailed, /'auto_delete'/));
    assert.throws(() => r.declare('x', 'direct', { durable: true, internal: true }), err(ErrorCode.PreconditionFailed, /'internal'/));
    assert.throws(
      () => r.declare('x', 'direct', { durable: true, arguments: [['alternate-exchange', ls('ae')]] }),
      err(ErrorCode.PreconditionFailed, /inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '\/': received the value 'ae' of type 'longstr' but current is none/),
    );
    // other arguments are not compared (RabbitMQ only checks alternate-exchange)
    assert.equal(r.declare('x', 'direct', { durable: true, arguments: [['other', ls('1')]] }).created, false);
    r.declare('y', 'fanout', { arguments: [['alternate-exchange', ls('ae')]] });
    assert.equal(r.declare('y', 'fanout', { arguments: [['alternate-exchange', { type: 'shortstr', value: Buffer.from('ae') }]] }).created, false);
    assert.throws(() => r.declare('z', 'x-consistent-hash'), err(ErrorCode.InvalidArgument, /unknown exchange type/));
    assert.throws(() => r.declare('z'.repeat(256), 'direct'), err(ErrorCode.InvalidArgument));
    assert.throws(() => r.declare('z', 'direct', { arguments: [['alternate-exchange', { type: 'bool', value: true }]] }), err(ErrorCode.PreconditionFailed));
    assert.equal(r.lookup('z'), undefined);
    assert.throws(() => r.declarePassive('nope'), err(ErrorCode.NotFound, /^no exchange 'nope' in vhost '\/'$/));
    assert.equal(r.declarePassive('x'), a.exchange);
  });

  test('delete: ifUnused, missing is fine, bindings go both ways', () => {
    const r = new ExchangeRegistry();
    r.addQueue('q');
    r.declare('x', 'direct');
    r.declare('up', 'fanout');
    r.bind('x', Q('q'), 'k');
    r.bind('up', X('x'));
    assert.throws(() => r.delete('x', { ifUnused: true }), err(ErrorCode.PreconditionFailed, /^exchange 'x' in vhost '\/' in use$/));
    const res = r.delete('x');
    assert.deepStrictEqual(res.deletedExchanges, ['x']);
    assert.equal(res.removedBindings.length, 2);
    assert.equal(r.lookup('x'), undefined);
    assert.deepStrictEqual(r.listBindings(), []);
    assert.deepStrictEqual(r.delete('x'), { removedBindings: [], deletedExchanges: [] });
    assert.deepStrictEqual(r.delete('up', { ifUnused: true }).deletedExchanges, ['up']);
  });

  test('bind/unbind: errors, idempotence, queue kinds share a namespace', () => {
    const r = new ExchangeRegistry();
    r.addQueue('q');
    r.addQueue('s', 'stream');
    r.declare('x', 'direct');
    assert.throws(() => r.bind('nope', Q('q')), err(ErrorCode.NotFound, /^no exchange 'nope' in vhost '\/'$/));
    assert.throws(() => r.bind('x', Q('nope')), err(ErrorCode.NotFound, /^no queue 'nope' in vhost '\/'$/));
    assert.throws(() => r.bind('x', X('nope')), err(ErrorCode.NotFound, /^no exchange 'nope'/));
    assert.throws(() => r.unbind('x', Q('nope')), err(ErrorCode.NotFound));
    assert.equal(r.bind('x', Q('q'), 'k'), true);
    assert.equal(r.bind('x', Q('q'), 'k'), false);
    assert.equal(r.bind('x', Q('s'), 'k'), true); // kind 'queue' finds the stream
    assert.deepStrictEqual(route(r, 'x', 'k'), ['queue:q', 'stream:s']);
    assert.deepStrictEqual(r.unbind('x', Q('q'), 'other').removedBindings, []);
    assert.equal(r.unbind('x', Q('q'), 'k').removedBindings.length, 1);
    assert.deepStrictEqual(route(r, 'x', 'k'), ['stream:s']);
    r.declare('h', 'headers');
    assert.throws(() => r.bind('h', Q('q'), '', [['x-match', ls('nope')]]), err(ErrorCode.PreconditionFailed, /Invalid x-match/));
    assert.deepStrictEqual(r.listBindings({ source: 'h' }), []);
    assert.throws(() => r.addQueue('s', 'queue'), err(ErrorCode.AlreadyExists));
    assert.equal(r.addQueue('q').name, 'q');
  });

  test('exchange-to-exchange routing dedupes and stops at loops', () => {
    const r = new ExchangeRegistry();
    for (const n of ['q1', 'q2', 'q3']) r.addQueue(n);
    r.declare('a', 'fanout');
    r.declare('b', 'topic');
    r.declare('c', 'direct');
    r.bind('a', X('b'));
    r.bind('a', X('c'));
    r.bind('a', Q('q1'));
    r.bind('b', Q('q1'), '#');
    r.bind('b', Q('q2'), 'k.*');
    r.bind('c', Q('q2'), 'k.x');
    r.bind('c', Q('q3'), 'other');
    r.bind('b', X('a'), '#'); // loop a -> b -> a
    r.bind('c', X('c'), 'k.x'); // self loop
    assert.deepStrictEqual(route(r, 'a', 'k.x'), ['queue:q1', 'queue:q2']);
    assert.deepStrictEqual(route(r, 'b', 'zz'), ['queue:q1']);
    assert.deepStrictEqual(route(r, 'c', 'other'), ['queue:q3']);
    assert.deepStrictEqual(route(r, 'c', 'k.x'), ['queue:q2']);
  });

  test('alternate exchanges: used when nothing matched, chained, loops stop', () => {
    const r = new ExchangeRegistry();
    r.addQueue('main');
    r.addQueue('unrouted');
    r.addQueue('last');
    r.declare('ae2', 'fanout');
    r.bind('ae2', Q('last'));
    r.declare('ae1', 'direct', { arguments: [['alternate-exchange', ls('ae2')]] });
    r.bind('ae1', Q('unrouted'), 'known');
    r.declare('x', 'direct', { arguments: [['alternate-exchange', ls('ae1')]] });
    r.bind('x', Q('main'), 'k');
    assert.deepStrictEqual(route(r, 'x', 'k'), ['queue:main']);
    assert.deepStrictEqual(route(r, 'x', 'known'), ['queue:unrouted']);
    assert.deepStrictEqual(route(r, 'x', 'zzz'), ['queue:last']); // AE of the AE
    // missing AE: nothing
    r.declare('y', 'direct', { arguments: [['alternate-exchange', ls('missing')]] });
    assert.deepStrictEqual(route(r, 'y', 'k'), []);
    // AE loop
    r.declare('l1', 'direct', { arguments: [['alternate-exchange', ls('l2')]] });
    r.declare('l2', 'direct', { arguments: [['alternate-exchange', ls('l1')]] });
    assert.deepStrictEqual(route(r, 'l1', 'k'), []);
    // an exchange that routes to another exchange (which routes nowhere) does not use its own AE
    r.declare('empty', 'fanout');
    r.declare('p', 'fanout', { arguments: [['alternate-exchange', ls('ae2')]] });
    r.bind('p', X('empty'));
    assert.deepStrictEqual(route(r, 'p'), []);
    // but the inner exchange's AE applies
    r.declare('inner', 'direct', { arguments: [['alternate-exchange', ls('ae2')]] });
    r.declare('outer', 'fanout');
    r.bind('outer', X('inner'));
    assert.deepStrictEqual(route(r, 'outer', 'nothing'), ['queue:last']);
  });

  test('route result: found/internal flags, reuse, headers', () => {
    const r = new ExchangeRegistry();
    r.addQueue('q');
    r.declare('int', 'headers', { internal: true });
    r.bind('int', Q('q'), '', [['a', ls('1')]]);
    const res = r.route('int', '', [['a', ls('1')]]);
    assert.equal(res.exchangeFound, true);
    assert.equal(res.internal, true);
    assert.equal(res.destinations.length, 1);
    const again = r.route('missing', '', undefined);
    assert.equal(again, res); // the registry's own result object is reused
    assert.equal(again.exchangeFound, false);
    assert.equal(again.destinations.length, 0);
    const mine = newRouteResult();
    r.route('amq.match', '', undefined, mine);
    assert.equal(mine.exchangeFound, true);
    assert.equal(mine.internal, false);
    // destinations are interned: the same object every time
    const d1 = r.route('', 'q', undefined).destinations[0];
    const d2 = r.route('int', '', [['a', ls('1')]]).destinations[0];
    assert.equal(d1, d2);
  });

  test('queue removal drops its bindings; auto-delete exchanges cascade', () => {
    const r = new ExchangeRegistry();
    r.addQueue('q');
    r.addQueue('keep');
    r.declare('ad', 'fanout', { autoDelete: true });
    r.declare('ad-up', 'fanout', { autoDelete: true });
    r.declare('plain', 'fanout');
    r.declare('never-bound', 'direct', { autoDelete: true });
    r.bind('ad', Q('q'));
    r.bind('ad-up', X('ad'));
    r.bind('plain', Q('q'));
    r.bind('plain', Q('keep'));
    const res = r.removeQueue('q');
    assert.deepStrictEqual(res.deletedExchanges.sort(), ['ad', 'ad-up']);
    assert.equal(res.removedBindings.length, 3);
    assert.equal(r.lookup('ad'), undefined);
    assert.equal(r.lookup('ad-up'), undefined);
    assert.notEqual(r.lookup('plain'), undefined);
    assert.notEqual(r.lookup('never-bound'), undefined); // auto-delete only after losing a binding
    assert.deepStrictEqual(route(r, 'plain'), ['queue:keep']);
    assert.deepStrictEqual(route(r, '', 'q'), []);
    assert.equal(r.hasQueue('q'), false);
    // unbind of the last binding deletes an auto-delete exchange
    r.declare('ad2', 'direct', { autoDelete: true });
    r.bind('ad2', Q('keep'), 'a');
    r.bind('ad2', Q('keep'), 'b');
    assert.deepStrictEqual(r.unbind('ad2', Q('keep'), 'a').deletedExchanges, []);
    assert.deepStrictEqual(r.unbind('ad2', Q('keep'), 'b').deletedExchanges, ['ad2']);
    assert.deepStrictEqual(r.removeQueue('nope'), { removedBindings: [], deletedExchanges: [] });
  });

  test('listBindings filters and the implicit default bindings', () => {
    const r = new ExchangeRegistry();
    r.addQueue('q');
    r.declare('x', 'direct');
    r.declare('y', 'fanout');
    r.bind('x', Q('q'), 'k1');
    r.bind('y', Q('q'));
    r.bind('x', X('y'), 'k2');
    assert.equal(r.listBindings().length, 3);
    assert.deepStrictEqual(r.listBindings({ source: 'x' }).map((b) => b.routingKey).sort(), ['k1', 'k2']);
    assert.deepStrictEqual(r.listBindings({ destination: Q('q') }).map((b) => b.source).sort(), ['x', 'y']);
    assert.deepStrictEqual(r.listBindings({ destination: Q('q'), source: 'y' }).length, 1);
    assert.deepStrictEqual(r.listBindings({ destination: X('y') }).map((b) => b.routingKey), ['k2']);
    assert.deepStrictEqual(r.listBindings({ destination: Q('zz') }), []);
    const withDefault = r.listBindings({ destination: Q('q'), includeDefault: true });
    assert.equal(withDefault.length, 3);
    assert.deepStrictEqual(withDefault[0], { source: '', destination: { kind: 'queue', name: 'q' }, routingKey: 'q', arguments: [] });
  });

  test('snapshot/restore round trip through JSON (durable only by default)', () => {
    const r = new ExchangeRegistry('vh');
    r.addQueue('dq', 'queue', { durable: true });
    r.addQueue('tq', 'queue', { durable: false });
    r.addQueue('st', 'stream');
    r.declare('d', 'topic', { durable: true, arguments: [['alternate-exchange', ls('ae')], ['n', { type: 'int64', value: 5n }]] });
    r.declare('h', 'headers', { durable: true, internal: true });
    r.declare('t', 'fanout', { durable: false, autoDelete: true });
    r.bind('d', Q('dq'), 'a.#');
    r.bind('d', Q('tq'), 'a.#'); // transient queue: not persisted
    r.bind('amq.topic', Q('st'), 'x.*');
    r.bind('h', Q('dq'), '', [['x-match', ls('any')], ['k', { type: 'bool', value: true }]]);
    r.bind('d', X('h'), 'z');
    r.bind('t', Q('dq'));
    const snap = r.snapshot();
    assert.deepStrictEqual(snap.exchanges.map((e) => e.name).sort(), ['d', 'h']);
    assert.equal(snap.bindings.length, 4);
    const json = JSON.parse(JSON.stringify(snap));
    const r2 = new ExchangeRegistry('vh');
    r2.addQueue('dq');
    r2.addQueue('st', 'stream');
    assert.deepStrictEqual(r2.restore(json).skippedBindings, []);
    assert.deepStrictEqual(r2.snapshot(), snap);
    assert.deepStrictEqual(route(r2, 'd', 'a.b'), ['queue:dq']);
    assert.deepStrictEqual(route(r2, 'd', 'z', [['k', { type: 'bool', value: true }]]), ['queue:dq']);
    assert.deepStrictEqual(route(r2, 'amq.topic', 'x.y'), ['stream:st']);
    assert.equal(r2.lookup('d')!.alternateExchange, 'ae');
    assert.deepStrictEqual(r2.lookup('d')!.arguments, r.lookup('d')!.arguments);
    // missing destination: skipped
    const r3 = new ExchangeRegistry('vh');
    assert.equal(r3.restore(json).skippedBindings.length, 3); // d -> h (exchange to exchange) is restored
    // everything, transient included
    assert.equal(r.snapshot({ includeTransient: true }).bindings.length, 6);
    const rec = exchangeMetaRecord(snap.exchanges[0]!);
    assert.equal(rec.kind, 'exchange');
    assert.equal(rec.key, `vh\u0000${snap.exchanges[0]!.name}`);
    assert.equal(bindingMetaRecord(snap.bindings[0]!).kind, 'binding');
    assert.notEqual(bindingMetaRecord(snap.bindings[0]!).key, bindingMetaRecord(snap.bindings[1]!).key);
  });
});
