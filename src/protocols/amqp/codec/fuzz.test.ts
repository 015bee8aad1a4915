// Fuzz: random and mutated input to the frame parser and the decoders may only ever produce frames, decoded
// values or AmqpDecodeError — no other exception, no hang, no huge allocation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBasicProperties, decodeContentHeader, encodeContentHeaderFrame } from './content-header.js';
import { AmqpDecodeError, AmqpEncodeError } from './decode-error.js';
import { decodeFieldTable } from './field-table.js';
import { AmqpFrameParser, PROTOCOL_HEADER, encodeBodyFrames } from './frame.js';
import { METHOD_INFO, decodeMethod, encodeMethodFrame, type AmqpMethod } from './generated/methods.js';
import { argArb, basicPropertiesArb } from './test-arbitraries.js';

function onlyDecodeErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AmqpDecodeError)) throw err;
    assert.ok([501, 502, 503, 505, 540].includes(err.replyCode), `reply code ${err.replyCode}`);
  }
}

/** Feeds a byte stream in the given chunking; decodes every frame that comes out. Returns the frame count. */
function feed(stream: Buffer, cuts: number[], expectProtocolHeader: boolean, frameMax: number): number {
  const p = new AmqpFrameParser({ expectProtocolHeader, frameMax });
  let frames = 0;
  let at = 0;
  onlyDecodeErrors(() => {
    for (const c of [...cuts.filter((x) => x < stream.length).sort((a, b) => a - b), stream.length]) {
      p.push(stream.subarray(at, c));
      at = c;
      for (let f = p.next(); f !== null; f = p.next()) {
        frames++;
        if (f.type === 'protocol-header') continue;
        assert.ok(f.payload.length <= p.payloadBytesMax);
        if (f.type === 1) onlyDecodeErrors(() => decodeMethod(f.payload));
        if (f.type === 2) onlyDecodeErrors(() => decodeContentHeader(f.payload));
      }
    }
  });
  return frames;
}

const methodArb: fc.Arbitrary<AmqpMethod> = fc.constantFrom(...METHOD_INFO).chain((info) => {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const a of info.args) rec[a.name] = argArb(a.type);
  return fc.record(rec).map((args) => ({ classId: info.classId, methodId: info.methodId, name: info.name, args: { ...args } }) as unknown as AmqpMethod);
});

/** A valid stream: header, methods, a content header and body frames. */
const validStreamArb = fc
  .tuple(fc.array(methodArb, { minLength: 1, maxLength: 4 }), basicPropertiesArb, fc.uint8Array({ maxLength: 300 }))
  .map(([methods, props, body]) =>
    Buffer.concat([
      PROTOCOL_HEADER,
      ...methods.map((m, i) => encodeMethodFrame(i, m)),
      encodeContentHeaderFrame(1, body.length, { ...props }),
      ...encodeBodyFrames(1, Buffer.from(body), 4096),
    ]),
  );

type Mutation = { kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate'; at: number; value: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
});

function mutate(buf: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = b[at]! ^ (1 << (m.value & 7));
    else if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    else b = b.subarray(0, at);
  }
  return b;
}

describe('AMQP codec fuzz', () => {
  test('random byte streams into the frame parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat({ max: 600 }), { maxLength: 8 }), fc.boolean(), (bytes, cuts, withHeader) => {
        const raw = Buffer.from(bytes);
        feed(raw, cuts, withHeader, 4096);
        // Same bytes behind a valid header so the frame layer is reached.
        feed(Buffer.concat([PROTOCOL_HEADER, raw]), cuts, true, 0);
      }),
      { numRuns: 1500 },
    );
  });

  test('mutated valid streams (bit flips, byte sets, inserts, deletes, truncation)', () => {
    let intactFrames = 0;
    fc.assert(
      fc.property(validStreamArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat({ max: 2000 }), { maxLength: 6 }), (stream, muts, cuts) => {
        intactFrames += feed(stream, cuts, true, 4096) > 0 ? 1 : 0;
        feed(mutate(stream, muts), cuts, true, 4096);
      }),
      { numRuns: 600 },
    );
    assert.ok(intactFrames > 0);
  });

  test('random argument bytes behind every valid class/method id', () => {
    for (const info of METHOD_INFO) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 80 }), (args) => {
          const payload = Buffer.alloc(4 + args.length);
          payload.writeUInt16BE(info.classId, 0);
          payload.writeUInt16BE(info.methodId, 2);
          payload.set(args, 4);
          onlyDecodeErrors(() => {
            const m = decodeMethod(payload);
            assert.equal(m.name, info.name);
            // Anything that decodes re-encodes to something that decodes the same (bytes may differ: unused
            // bits are dropped, invalid UTF-8 in a shortstr became U+FFFD — which may even push it past 255 bytes).
            let again: Buffer;
            try {
              again = encodeMethodFrame(0, m);
            } catch (err) {
              assert.ok(err instanceof AmqpEncodeError, String(err));
              return;
            }
            assert.deepStrictEqual(decodeMethod(again.subarray(7, again.length - 1)), m);
          });
        }),
        { numRuns: 60 },
      );
    }
  });

  test('mutated method payloads, content headers, properties and tables', () => {
    fc.assert(
      fc.property(methodArb, basicPropertiesArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (m, props, muts) => {
        const frame = encodeMethodFrame(0, m);
        onlyDecodeErrors(() => decodeMethod(mutate(frame.subarray(7, frame.length - 1), muts)));
        const header = encodeContentHeaderFrame(0, 1n, { ...props });
        const hp = header.subarray(7, header.length - 1);
        onlyDecodeErrors(() => decodeContentHeader(mutate(hp, muts)));
        onlyDecodeErrors(() => decodeBasicProperties(mutate(hp.subarray(12), muts)));
      }),
      { numRuns: 800 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyDecodeErrors(() => decodeFieldTable(Buffer.from(bytes)))),
      { numRuns: 1000 },
    );
  });

  test('bounded time: 4 MiB of random bytes and a 4 MiB valid stream parse quickly', () => {
    const random = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    let t0 = performance.now();
    feed(Buffer.concat([PROTOCOL_HEADER, random]), [], true, 0);
    assert.ok(performance.now() - t0 < 2000);
    const ack = encodeMethodFrame(1, { classId: 60, methodId: 80, name: 'basic.ack', args: { deliveryTag: 1n, multiple: false } });
    const many = Buffer.concat([PROTOCOL_HEADER, ...Array.from({ length: 200_000 }, () => ack)]);
    t0 = performance.now();
    const chunks: number[] = [];
    for (let i = 65536; i < many.length; i += 65536) chunks.push(i);
    assert.equal(feed(many, chunks, true, 4096), 200_001);
    assert.ok(performance.now() - t0 < 5000, `took ${performance.now() - t0} ms`);
  });
});
