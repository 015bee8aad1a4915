import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { apiTable } from './api-table.js';
import { readRequestHeader, responseFrame, splitFrames, writeRequestHeader } from './frame.js';
import { KafkaDecodeError, KafkaReader } from './reader.js';
import { KafkaWriter } from './writer.js';
import {
  decodeApiVersionsResponse,
  decodeMetadataRequest,
  decodeProduceRequest,
  defaultApiVersionsResponse,
  encodeApiVersionsResponse,
  encodeMetadataRequest,
  encodeProduceRequest,
  type ProduceRequest,
} from './generated/index.js';

const roundTrip = <T>(encode: (w: KafkaWriter, v: number, o: T) => void, decode: (r: KafkaReader, v: number) => T, v: number, o: T): T => {
  const w = new KafkaWriter(8);
  encode(w, v, o);
  const buf = w.toBuffer();
  const r = new KafkaReader(buf);
  const out = decode(r, v);
  assert.equal(r.remaining, 0, 'every byte consumed');
  return out;
};

test('every advertised API round-trips its default request and response at every advertised version', () => {
  assert.equal(apiTable.size, 22);
  for (const api of apiTable.values()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      const req = api.defaultRequest();
      assert.deepEqual(roundTrip(api.encodeRequest as never, api.decodeRequest as never, v, req as never), req, `${api.name} request v${v}`);
      const res = api.defaultResponse();
      assert.deepEqual(roundTrip(api.encodeResponse as never, api.decodeResponse as never, v, res as never), res, `${api.name} response v${v}`);
    }
  }
});

test('ApiVersions v0 and v3 responses have the documented layout', () => {
  const res = { ...defaultApiVersionsResponse(), apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }] };
  const w0 = new KafkaWriter();
  encodeApiVersionsResponse(w0, 0, res);
  // error_code int16, array int32 count, then key/min/max int16 each
  assert.deepEqual([...w0.toBuffer()], [0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3]);
  const w3 = new KafkaWriter();
  encodeApiVersionsResponse(w3, 3, res);
  // error_code, compact array (N+1 = 2), key/min/max, element tags (0), throttle int32, body tags (0)
  assert.deepEqual([...w3.toBuffer()], [0, 0, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(decodeApiVersionsResponse(new KafkaReader(w3.toBuffer()), 3).apiKeys, res.apiKeys);
});

test('request headers v1/v2 and response frames', () => {
  const w = new KafkaWriter();
  writeRequestHeader(w, { apiKey: 3, apiVersion: 1, correlationId: 7, clientId: 'kcat' }, false);
  encodeMetadataRequest(w, 1, { topics: [{ name: 'orders', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  const buf = w.toBuffer();
  const r = new KafkaReader(buf);
  const h = readRequestHeader(r, () => false);
  assert.deepEqual(h, { apiKey: 3, apiVersion: 1, correlationId: 7, clientId: 'kcat' });
  assert.equal(decodeMetadataRequest(r, 1).topics![0]!.name, 'orders');
  const frame = Buffer.concat(responseFrame(7, 18, true, (x) => x.int16(0)));
  assert.deepEqual([...frame], [0, 0, 0, 6, 0, 0, 0, 7, 0, 0], 'ApiVersions keeps header v0 even when flexible');
  const { frames, rest } = splitFrames(Buffer.concat([frame, frame.subarray(0, 5)]), 1 << 20);
  assert.equal(frames.length, 1);
  assert.equal(rest.length, 5);
  assert.throws(() => splitFrames(Buffer.from([0x7f, 0, 0, 0]), 1000), KafkaDecodeError);
});

test('Produce v3 and v7 carry record batches as zero-copy slices', () => {
  const batch = Buffer.alloc(2100, 7); // opaque to the codec
  const req: ProduceRequest = { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch }] }] };
  for (const v of [3, 7]) {
    const out = roundTrip(encodeProduceRequest, decodeProduceRequest, v, req);
    assert.deepEqual(out.topicData[0]!.partitionData[0]!.records, batch);
  }
});

test('fuzz: random bytes and mutated frames only ever raise KafkaDecodeError', () => {
  const samples = new Map<number, Buffer>();
  for (const api of apiTable.values()) {
    const w = new KafkaWriter();
    (api.encodeRequest as (w: KafkaWriter, v: number, o: unknown) => void)(w, api.maxVersion, api.defaultRequest());
    samples.set(api.apiKey, w.toBuffer());
  }
  fc.assert(
    fc.property(fc.constantFrom(...apiTable.values()), fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.boolean(), (api, bytes, at, mutate) => {
      const sample = samples.get(api.apiKey)!;
      let input = Buffer.from(bytes);
      if (mutate && sample.length > 0) {
        input = Buffer.from(sample);
        input[at % input.length] = bytes[0] ?? 0xff;
        input = input.subarray(0, Math.max(0, input.length - (at % 3)));
      }
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        try {
          (api.decodeRequest as (r: KafkaReader, v: number) => unknown)(new KafkaReader(input), v);
        } catch (err) {
          assert.ok(err instanceof KafkaDecodeError, `${api.name} v${v}: ${(err as Error).name}: ${(err as Error).message}`);
        }
      }
    }),
    { numRuns: 2000 },
  );
});
