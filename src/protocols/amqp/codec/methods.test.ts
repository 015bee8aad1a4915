import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { FieldTable } from '../../../core/message.js';
import { AmqpDecodeError, AmqpEncodeError } from './decode-error.js';
import { writeFieldTable } from './field-table.js';
import { AmqpFrameParser } from './frame.js';
import { ClassId, MethodId, REPLY_CODE_NAMES, ReplyCode, isHardError, replyText } from './generated/constants.js';
import {
  METHOD_INFO,
  decodeMethod,
  defaultArgs,
  encodeBasicAckFrame,
  encodeBasicDeliverFrame,
  encodeMethodFrame,
  makeMethod,
  methodHasContent,
  methodInfo,
  type AmqpMethod,
  type AmqpMethodInfo,
} from './generated/methods.js';
import { AmqpWriter } from './writer.js';
import { argArb } from './test-arbitraries.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Independent, metadata-driven reference encoder (a generic loop) to check the generated straight-line code. */
function referenceFrame(channel: number, info: AmqpMethodInfo, args: Record<string, unknown>): Buffer {
  const w = new AmqpWriter(64);
  w.short(info.classId);
  w.short(info.methodId);
  let bitOctet = -1;
  let bitIndex = 0;
  for (const a of info.args) {
    if (a.type === 'bit') {
      if (bitOctet < 0 || bitIndex === 8) {
        bitOctet = w.pos;
        bitIndex = 0;
        w.octet(0);
      }
      if (args[a.name]) w.buf[bitOctet]! |= 1 << bitIndex;
      bitIndex++;
      continue;
    }
    bitOctet = -1;
    const v = args[a.name];
    if (a.type === 'table') writeFieldTable(w, v as FieldTable);
    else if (a.type === 'timestamp') w.longlong(v as bigint);
    else (w[a.type] as (x: unknown) => void).call(w, v);
  }
  const payload = w.take();
  const head = Buffer.alloc(7);
  head[0] = 1;
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}

function methodArb(info: AmqpMethodInfo): fc.Arbitrary<AmqpMethod> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const a of info.args) rec[a.name] = argArb(a.type);
  return fc.record(rec).map((args) => ({ classId: info.classId, methodId: info.methodId, name: info.name, args: { ...args } }) as unknown as AmqpMethod);
}

function parseOne(frame: Buffer): { channel: number; payload: Buffer } {
  const p = new AmqpFrameParser({ expectProtocolHeader: false, frameMax: 0 });
  p.push(frame);
  const f = p.next();
  assert.ok(f && f.type === 1, 'one method frame');
  assert.equal(p.next(), null);
  assert.equal(p.bufferedBytes, 0);
  return f;
}

const decodeCode = (payload: Buffer): number => {
  try {
    decodeMethod(payload);
  } catch (err) {
    assert.ok(err instanceof AmqpDecodeError, String(err));
    return err.replyCode;
  }
  assert.fail('expected AmqpDecodeError');
};

describe('AMQP methods', () => {
  test('every method round-trips through frame encode, frame parse and decode (property)', () => {
    assert.equal(METHOD_INFO.length, 66);
    for (const info of METHOD_INFO) {
      fc.assert(
        fc.property(methodArb(info), fc.integer({ min: 0, max: 0xffff }), (m, channel) => {
          const frame = encodeMethodFrame(channel, m);
          assert.deepStrictEqual(frame, referenceFrame(channel, info, m.args as unknown as Record<string, unknown>), info.name);
          const f = parseOne(frame);
          assert.equal(f.channel, channel);
          assert.deepStrictEqual(decodeMethod(f.payload), m, info.name);
        }),
        { numRuns: 60 },
      );
    }
  });

  test('metadata matches the spec JSON (ids incl. the unbind-ok quirk, argument order and types, content)', () => {
    const specPath = fileURLToPath(new URL('../../../../../specs/amqp/amqp-rabbitmq-0.9.1.json', import.meta.url));
    const spec = JSON.parse(readFileSync(specPath, 'utf8')) as {
      domains: Array<[string, string]>;
      classes: Array<{ id: number; name: string; methods: Array<{ id: number; name: string; content?: boolean; arguments: Array<{ name: string; type?: string; domain?: string }> }> }>;
    };
    const domains = new Map(spec.domains);
    let n = 0;
    for (const c of spec.classes)
      for (const m of c.methods) {
        n++;
        const name = `${c.name}.${m.name}`;
        const info = METHOD_INFO.find((i) => i.name === name);
        assert.ok(info, name);
        assert.equal(info.classId, c.id);
        assert.equal(info.methodId, name === 'exchange.unbind-ok' ? 51 : m.id, name);
        assert.equal(info.hasContent, m.content === true, name);
        assert.deepStrictEqual(
          info.args.map((a) => [a.wireName, a.type]),
          m.arguments.map((a) => {
            let ty = a.type ?? a.domain!;
            while (domains.has(ty) && domains.get(ty) !== ty) ty = domains.get(ty)!;
            return [a.name, ty];
          }),
          name,
        );
      }
    assert.equal(n, METHOD_INFO.length);
  });

  test('content methods, ids, quirks and reply codes', () => {
    const content = METHOD_INFO.filter((m) => m.hasContent).map((m) => m.name).sort();
    assert.deepStrictEqual(content, ['basic.deliver', 'basic.get-ok', 'basic.publish', 'basic.return']);
    assert.ok(methodHasContent(60, 40) && methodHasContent(60, 60) && methodHasContent(60, 50) && methodHasContent(60, 71));
    assert.ok(!methodHasContent(60, 80) && !methodHasContent(10, 10));
    assert.equal(methodInfo(40, 51)?.name, 'exchange.unbind-ok');
    assert.equal(methodInfo(40, 41), undefined);
    assert.equal(MethodId.ExchangeUnbindOk, 51);
    assert.equal(ClassId.Basic, 60);
    assert.equal(methodInfo(10, 70)?.name, 'connection.update-secret');
    assert.equal(ReplyCode.FrameError, 501);
    assert.equal(REPLY_CODE_NAMES[404], 'NOT_FOUND');
    assert.ok(isHardError(501) && isHardError(530) && !isHardError(404) && !isHardError(406));
    assert.equal(replyText(404, "no queue 'q1' in vhost '/'"), "NOT_FOUND - no queue 'q1' in vhost '/'");
    assert.equal(Buffer.byteLength(replyText(406, 'é'.repeat(300))), 254); // cut at a character boundary
    const d = defaultArgs('basic.nack');
    assert.deepStrictEqual(d, { deliveryTag: 0n, multiple: false, requeue: true });
    assert.deepStrictEqual(defaultArgs('connection.start').mechanisms, Buffer.from('PLAIN'));
    assert.deepStrictEqual(defaultArgs('queue.declare').arguments, []);
  });

  test('golden: connection.start (hand-checked bytes)', () => {
    const frame = encodeMethodFrame(
      0,
      makeMethod('connection.start', {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: [['product', { type: 'longstr', value: Buffer.from('Junction') }]],
        mechanisms: Buffer.from('PLAIN'),
        locales: Buffer.from('en_US'),
      }),
    );
    const expected = hex(`
      01 0000 00000031
      000a 000a 00 09
      00000015 07 ${Buffer.from('product').toString('hex')} 53 00000008 ${Buffer.from('Junction').toString('hex')}
      00000005 ${Buffer.from('PLAIN').toString('hex')}
      00000005 ${Buffer.from('en_US').toString('hex')}
      ce`);
    assert.equal(frame.toString('hex'), expected.toString('hex'));
    const m = decodeMethod(parseOne(frame).payload);
    assert.equal(m.name, 'connection.start');
    if (m.name === 'connection.start') assert.equal(m.args.mechanisms.toString(), 'PLAIN');
  });

  test('golden: basic.publish, basic.deliver, basic.ack (fast paths)', () => {
    const publish = encodeMethodFrame(1, makeMethod('basic.publish', { ticket: 0, exchange: 'ex', routingKey: 'rk', mandatory: true, immediate: false }));
    assert.equal(publish.toString('hex'), hex('01 0001 0000000d 003c 0028 0000 02 6578 02 726b 01 ce').toString('hex'));
    const both = encodeMethodFrame(1, makeMethod('basic.publish', { ticket: 0, exchange: '', routingKey: '', mandatory: true, immediate: true }));
    assert.equal(both.toString('hex'), hex('01 0001 00000009 003c 0028 0000 00 00 03 ce').toString('hex'));
    const deliver = encodeBasicDeliverFrame(7, { consumerTag: 'c', deliveryTag: 258n, redelivered: true, exchange: '', routingKey: 'q' });
    assert.equal(deliver.toString('hex'), hex('01 0007 00000012 003c 003c 01 63 0000000000000102 01 00 01 71 ce').toString('hex'));
    const ack = encodeBasicAckFrame(2, { deliveryTag: 1n, multiple: true });
    assert.equal(ack.toString('hex'), hex('01 0002 0000000d 003c 0050 0000000000000001 01 ce').toString('hex'));
    // Bits past the first octet group: exchange.declare's five bits share one octet.
    const decl = encodeMethodFrame(3, makeMethod('exchange.declare', { ticket: 0, exchange: 'x', type: 'topic', passive: false, durable: true, autoDelete: false, internal: true, nowait: true, arguments: [] }));
    assert.equal(decl.toString('hex'), hex(`01 0003 00000013 0028 000a 0000 01 78 05 ${Buffer.from('topic').toString('hex')} 1a 00000000 ce`).toString('hex'));
  });

  test('bits: upper bits of a bit octet are ignored, values decode LSB-first', () => {
    const m = decodeMethod(hex('003c 0078 0000000000000005 fd'));
    assert.deepStrictEqual(m, { classId: 60, methodId: 120, name: 'basic.nack', args: { deliveryTag: 5n, multiple: true, requeue: false } });
  });

  test('decode errors: 501 short payload, 503 unknown class/method, 502 bad or trailing arguments', () => {
    assert.equal(decodeCode(hex('003c')), 501);
    assert.equal(decodeCode(hex('0063 000a')), 503); // class 99
    assert.equal(decodeCode(hex('003c 0029 00')), 503); // basic method 41
    assert.equal(decodeCode(hex('0028 0029')), 503); // exchange 41: unbind-ok is 51
    assert.equal(decodeCode(hex('003c 0050 00000000')), 502); // ack truncated
    assert.equal(decodeCode(hex('003c 0050 0000000000000001 00 00')), 502); // trailing byte
    assert.equal(decodeCode(hex('003c 0028 0000 05 6578')), 502); // shortstr overruns
    assert.equal(decodeCode(hex('000a 000b ffffffff')), 502); // start-ok table claims 4 GiB
    try {
      decodeMethod(hex('003c 0050 00'));
    } catch (err) {
      assert.ok(err instanceof AmqpDecodeError);
      assert.equal(err.classId, 60);
      assert.equal(err.methodId, 80);
      assert.match(err.replyText, /^SYNTAX_ERROR - /);
    }
    try {
      decodeMethod(hex('0063 000a'));
    } catch (err) {
      assert.ok(err instanceof AmqpDecodeError);
      assert.equal(err.replyName, 'COMMAND_INVALID');
    }
  });

  test('encode limits: shortstr over 255 bytes and out-of-range numbers throw', () => {
    assert.throws(() => encodeMethodFrame(1, makeMethod('queue.bind', { ticket: 0, queue: 'q'.repeat(256), exchange: '', routingKey: '', nowait: false, arguments: [] })), AmqpEncodeError);
    assert.throws(() => encodeBasicDeliverFrame(1, { consumerTag: 'é'.repeat(128), deliveryTag: 1n, redelivered: false, exchange: '', routingKey: '' }), AmqpEncodeError);
    const ok = encodeBasicDeliverFrame(1, { consumerTag: 'x'.repeat(255), deliveryTag: 1n, redelivered: false, exchange: '', routingKey: '' });
    assert.equal(ok.length, 7 + 16 + 255 + 1);
    assert.throws(() => encodeBasicAckFrame(1, { deliveryTag: -1n, multiple: false }), RangeError);
    assert.throws(() => encodeBasicAckFrame(0x10000, { deliveryTag: 1n, multiple: false }), RangeError);
  });
});
