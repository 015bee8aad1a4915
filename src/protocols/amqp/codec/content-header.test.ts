import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBasicProperties, decodeContentHeader, encodeBasicProperties, encodeContentHeaderFrame, type BasicProperties } from './content-header.js';
import { AmqpDecodeError, AmqpEncodeError } from './decode-error.js';
import { AmqpFrameParser } from './frame.js';
import { basicPropertiesArb } from './test-arbitraries.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const code = (payload: Buffer) => {
  try {
    decodeContentHeader(payload);
  } catch (err) {
    assert.ok(err instanceof AmqpDecodeError, String(err));
    return err.replyCode;
  }
  assert.fail('expected AmqpDecodeError');
};

describe('AMQP content headers', () => {
  test('round trip: every property subset (property)', () => {
    fc.assert(
      fc.property(basicPropertiesArb, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 0xffff }), (raw, bodySize, channel) => {
        const props: BasicProperties = { ...raw };
        const frame = encodeContentHeaderFrame(channel, bodySize, props);
        const p = new AmqpFrameParser({ expectProtocolHeader: false, frameMax: 0 });
        p.push(frame);
        const f = p.next();
        assert.ok(f && f.type === 2 && f.channel === channel);
        assert.deepStrictEqual(decodeContentHeader(f.payload), { classId: 60, weight: 0, bodySize, properties: props });
        assert.deepStrictEqual(decodeBasicProperties(encodeBasicProperties(props)), props);
      }),
      { numRuns: 300 },
    );
  });

  test('golden: content-type + delivery-mode, and every flag bit in order', () => {
    const frame = encodeContentHeaderFrame(1, 5, { contentType: 'text/plain', deliveryMode: 2 });
    assert.equal(frame.toString('hex'), hex(`02 0001 0000001a 003c 0000 0000000000000005 9000 0a ${Buffer.from('text/plain').toString('hex')} 02 ce`).toString('hex'));
    const flags = (p: BasicProperties) => encodeBasicProperties(p).readUInt16BE(0);
    assert.equal(flags({}), 0);
    assert.equal(flags({ contentType: '' }), 0x8000);
    assert.equal(flags({ headers: [] }), 0x2000);
    assert.equal(flags({ timestamp: 1 }), 0x0040);
    assert.equal(flags({ clusterId: '' }), 0x0004);
    // number timestamps are accepted and decode as bigint seconds
    assert.deepStrictEqual(decodeBasicProperties(encodeBasicProperties({ timestamp: 1700000000 })), { timestamp: 1700000000n });
    assert.deepStrictEqual(decodeContentHeader(hex('003c 0000 0000000000000000 0000')), { classId: 60, weight: 0, bodySize: 0n, properties: {} });
  });

  test('errors: 501 short, 505 wrong class, 502 bad flags / truncated / trailing', () => {
    assert.equal(code(hex('003c 0000 0000000000')), 501);
    assert.equal(code(hex('0014 0000 0000000000000000 0000')), 505);
    assert.equal(code(hex('003c 0000 0000000000000000 0001')), 502); // continuation bit
    assert.equal(code(hex('003c 0000 0000000000000000 0002')), 502); // no such property
    assert.equal(code(hex('003c 0000 0000000000000000 8000 05 6162')), 502); // shortstr past end
    assert.equal(code(hex('003c 0000 0000000000000000 2000 7fffffff')), 502); // headers table past end
    assert.equal(code(hex('003c 0000 0000000000000000 0000 00')), 502); // trailing
    assert.throws(() => encodeContentHeaderFrame(1, 0, { replyTo: 'r'.repeat(256) }), AmqpEncodeError);
    assert.throws(() => encodeContentHeaderFrame(1, -1, {}), RangeError);
  });
});
