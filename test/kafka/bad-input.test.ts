// Bad input on the Kafka port: each is answered as Kafka does (an error code, or closing the connection),
// never crashing the broker or disturbing other connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/server.js';
import { defaultConfig } from '../../src/server/config.js';
import { configureLogger } from '../../src/lib/logger.js';
import type { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { requestFrame } from './raw-frames.js';
import { decodeApiVersionsResponse, decodeProduceResponse, encodeProduceRequest } from '../../src/protocols/kafka/codec/generated/index.js';

const frame = (apiKey: number, apiVersion: number, body: (w: KafkaWriter) => void, flexible = false) => requestFrame(apiKey, apiVersion, 42, body, flexible);

function exchange(port: number, data: Buffer): Promise<{ response: Buffer | null; closed: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1', () => s.write(data));
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ response: buf.length > 0 ? buf : null, closed: false });
    }, 500);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        clearTimeout(timer);
        s.destroy();
        resolve({ response: buf.subarray(4), closed: false });
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ response: buf.length > 0 ? buf.subarray(4) : null, closed: true });
    });
    s.on('error', () => undefined);
  });
}

test('malformed frames, unknown APIs/versions, oversize requests and corrupt batches', { timeout: 30_000 }, async () => {
  configureLogger('silent');
  const server = await startServer({ ...defaultConfig, dataDir: join(mkdtempSync(join(tmpdir(), 'kbad-')), 'data'), host: '127.0.0.1', kafkaPort: 0, amqpPort: 'off', httpPort: 'off', fsync: 'never' });
  const port = server.port('kafka')!;
  // A healthy connection stays open across everything below.
  const healthy = connect(port, '127.0.0.1');
  await new Promise((r) => healthy.once('connect', r));
  let healthyClosed = false;
  healthy.on('close', () => (healthyClosed = true));

  // Unknown API key → connection closed, no response.
  assert.deepEqual(await exchange(port, frame(999, 0, () => undefined)), { response: null, closed: true });
  // Known API at an unsupported version → closed.
  assert.equal((await exchange(port, frame(0, 99, () => undefined))).closed, true);
  // ApiVersions above our maximum → UNSUPPORTED_VERSION (35) with the v0 body and our key list.
  const av = await exchange(port, frame(18, 9, () => undefined, true));
  const r = new KafkaReader(av.response!);
  assert.equal(r.int32(), 42);
  const body = decodeApiVersionsResponse(r, 0);
  assert.equal(body.errorCode, 35);
  assert.ok(body.apiKeys.some((k) => k.apiKey === 0));
  // Truncated body → closed.
  assert.equal((await exchange(port, frame(3, 1, (w) => w.int32(5)))).closed, true);
  // Frame size over socket.request.max.bytes → closed.
  const huge = Buffer.alloc(4);
  huge.writeInt32BE(0x7fffffff);
  assert.equal((await exchange(port, huge)).closed, true);
  // Garbage.
  assert.equal((await exchange(port, Buffer.from([0, 0, 0, 3, 1, 2, 3]))).closed, true);
  // A corrupt batch → CORRUPT_MESSAGE (2) for that partition.
  await server.broker.createStream('/', 'bad', { partitions: 1 });
  const produce = frame(0, 3, (w) =>
    encodeProduceRequest(w, 3, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'bad', partitionData: [{ index: 0, records: Buffer.alloc(80, 9) }] }] }),
  );
  const pr = await exchange(port, produce);
  const rr = new KafkaReader(pr.response!);
  rr.int32();
  assert.equal(decodeProduceResponse(rr, 3).responses[0]!.partitionResponses[0]!.errorCode, 2);

  assert.equal(healthyClosed, false, 'other connections are not disturbed');
  healthy.destroy();
  await server.close();
});
