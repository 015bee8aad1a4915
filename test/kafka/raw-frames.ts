// Raw Kafka frames for tests that talk to the port without a client library.
import { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { writeRequestHeader } from '../../src/protocols/kafka/codec/frame.js';

/** A size-prefixed request frame: header (v1, or v2 when flexible) then the body `body` writes. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: (w: KafkaWriter) => void, flexible = false, clientId = 'raw'): Buffer {
  const w = new KafkaWriter();
  writeRequestHeader(w, { apiKey, apiVersion, correlationId, clientId }, flexible);
  body(w);
  const b = w.toBuffer();
  const size = Buffer.alloc(4);
  size.writeInt32BE(b.length);
  return Buffer.concat([size, b]);
}

/** Collects socket data and hands out each whole size-prefixed frame (without its prefix). */
export function frameSplitter(onFrame: (frame: Buffer) => void): (data: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (data) => {
    buf = Buffer.concat([buf, data]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const n = buf.readInt32BE(0);
      onFrame(buf.subarray(4, 4 + n));
      buf = buf.subarray(4 + n);
    }
  };
}
