import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AmqpDecodeError } from './decode-error.js';
import { AmqpFrameParser, HEARTBEAT_FRAME, PROTOCOL_HEADER, encodeBodyFrames, encodeFrame, type AmqpParsed } from './frame.js';
import { FrameType } from './generated/constants.js';
import { encodeBasicAckFrame } from './generated/methods.js';
import { AmqpCodecLimits } from './limits.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function drain(p: AmqpFrameParser): AmqpParsed[] {
  const out: AmqpParsed[] = [];
  for (let f = p.next(); f !== null; f = p.next()) out.push(f);
  return out;
}

function errorOf(p: AmqpFrameParser, bytes: Buffer): AmqpDecodeError {
  p.push(bytes);
  try {
    drain(p);
  } catch (err) {
    assert.ok(err instanceof AmqpDecodeError, String(err));
    return err;
  }
  assert.fail('expected AmqpDecodeError');
}

const frameHead = (type: number, channel: number, size: number) => {
  const b = Buffer.alloc(7);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(size, 3);
  return b;
};

describe('AMQP framing', () => {
  test('golden: protocol header and heartbeat', () => {
    assert.equal(PROTOCOL_HEADER.toString('hex'), '414d515000000901');
    assert.equal(HEARTBEAT_FRAME.toString('hex'), '080000000000' + '00ce');
    const p = new AmqpFrameParser();
    p.push(hex('414d5150 00000901 08 0000 00000000 ce'));
    assert.deepStrictEqual(drain(p), [
      { type: 'protocol-header', version: '0-9-1' },
      { type: 8, channel: 0, payload: Buffer.alloc(0) },
    ]);
  });

  test('protocol header: 0-9 accepted, anything else flagged at the first wrong byte', () => {
    const p09 = new AmqpFrameParser();
    p09.push(hex('414d5150 01010009'));
    assert.deepStrictEqual(p09.next(), { type: 'protocol-header', version: '0-9' });
    const partial = new AmqpFrameParser();
    partial.push(Buffer.from('AMQ'));
    assert.equal(partial.next(), null);
    const http = errorOf(new AmqpFrameParser(), Buffer.from('GET / HTTP/1.1\r\n'));
    assert.ok(http.badProtocolHeader);
    const amqp10 = errorOf(new AmqpFrameParser(), hex('414d5150 00010000'));
    assert.ok(amqp10.badProtocolHeader);
    const early = new AmqpFrameParser();
    early.push(Buffer.from('AMQX'));
    assert.throws(() => early.next(), (e: unknown) => e instanceof AmqpDecodeError && e.badProtocolHeader);
  });

  test('frames split at every byte boundary reassemble exactly (property)', () => {
    const frames = [
      encodeBasicAckFrame(1, { deliveryTag: 9n, multiple: false }),
      HEARTBEAT_FRAME,
      encodeFrame(FrameType.Body, 3, Buffer.from('hello world')),
      encodeFrame(FrameType.Header, 3, Buffer.alloc(14)),
      encodeFrame(FrameType.Body, 65535, Buffer.alloc(0)),
    ];
    const stream = Buffer.concat([PROTOCOL_HEADER, ...frames]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const p = new AmqpFrameParser();
        const out: AmqpParsed[] = [];
        let at = 0;
        for (const c of [...points, stream.length]) {
          p.push(stream.subarray(at, c));
          at = c;
          out.push(...drain(p));
        }
        assert.equal(out.length, 1 + frames.length);
        assert.deepStrictEqual(out[0], { type: 'protocol-header', version: '0-9-1' });
        for (let i = 0; i < frames.length; i++) {
          const f = out[i + 1]!;
          assert.ok(f.type !== 'protocol-header');
          assert.deepStrictEqual(encodeFrame(f.type, f.channel, f.payload), frames[i]);
        }
        assert.equal(p.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
    // Byte by byte.
    const p = new AmqpFrameParser();
    const out: AmqpParsed[] = [];
    for (let i = 0; i < stream.length; i++) {
      p.push(stream.subarray(i, i + 1));
      out.push(...drain(p));
    }
    assert.equal(out.length, 1 + frames.length);
  });

  test('frame-max: payload up to frame-max - 8 plus 8 tolerated, one more is FRAME_ERROR', () => {
    const p = new AmqpFrameParser({ expectProtocolHeader: false });
    assert.equal(p.payloadBytesMax, 8192); // before tune: FRAME-MIN-SIZE - 8 + 8
    p.push(encodeFrame(FrameType.Body, 1, Buffer.alloc(8192)));
    assert.equal(drain(p).length, 1);
    const over = errorOf(new AmqpFrameParser({ expectProtocolHeader: false }), frameHead(3, 1, 8193));
    assert.equal(over.replyCode, 501);
    const tuned = new AmqpFrameParser({ expectProtocolHeader: false });
    tuned.setFrameMax(131072);
    tuned.push(encodeFrame(FrameType.Body, 1, Buffer.alloc(131072)));
    assert.equal(drain(tuned).length, 1);
    assert.equal(errorOf(tuned, frameHead(3, 1, 131073)).replyCode, 501);
    // Refused as soon as the 7 header bytes arrive: nothing is buffered or allocated for a 4 GiB claim.
    const huge = new AmqpFrameParser({ expectProtocolHeader: false, frameMax: 0 });
    assert.equal(huge.payloadBytesMax, AmqpCodecLimits.frameMaxUnlimited);
    assert.equal(errorOf(huge, frameHead(1, 1, 0xffffffff)).replyCode, 501);
  });

  test('framing errors carry the right reply code, and stay', () => {
    const mk = () => new AmqpFrameParser({ expectProtocolHeader: false });
    assert.equal(errorOf(mk(), hex('01 0001 00000001 00 cd')).replyCode, 501); // bad end octet
    assert.equal(errorOf(mk(), hex('04 0001 00000000 ce')).replyCode, 501); // unknown type
    assert.equal(errorOf(mk(), hex('00 0000 00000000 ce')).replyCode, 501);
    assert.equal(errorOf(mk(), hex('08 0000 00000001 00 ce')).replyCode, 501); // heartbeat with payload
    assert.equal(errorOf(mk(), hex('08 0005 00000000 ce')).replyCode, 505); // heartbeat off channel 0
    const p = mk();
    const e = errorOf(p, hex('01 0001 00000001 00 00'));
    assert.match(e.replyText, /^FRAME_ERROR - frame end octet/);
    p.push(HEARTBEAT_FRAME);
    assert.throws(() => p.next(), (x: unknown) => x === e);
    assert.equal(p.bufferedBytes, 0);
  });

  test('body framing splits by frame-max - 8, empty body has no frame', () => {
    assert.deepStrictEqual(encodeBodyFrames(1, Buffer.alloc(0), 4096), []);
    for (const size of [1, 10, 4088, 4089, 20_000, 100_000]) {
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = (i * 7) & 0xff;
      const chunks = encodeBodyFrames(5, body, 4096);
      const p = new AmqpFrameParser({ expectProtocolHeader: false, frameMax: 4096 });
      for (const c of chunks) p.push(c);
      const frames = drain(p);
      assert.equal(frames.length, Math.ceil(size / 4088), `size ${size}`);
      const parts: Buffer[] = [];
      for (const f of frames) {
        assert.ok(f.type === 3 && f.channel === 5);
        assert.ok(f.payload.length <= 4088);
        parts.push(f.payload);
      }
      assert.deepStrictEqual(Buffer.concat(parts), body);
    }
    assert.equal(encodeBodyFrames(1, Buffer.alloc(300_000), 0).length, 3); // unlimited: one frame (3 chunks)
  });
});
