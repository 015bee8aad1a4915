// A minimal Kafka client over raw frames (generated codecs): one request at a time per call, responses
// matched by correlation id. Non-flexible versions only (response header v0).
import { connect, type Socket } from 'node:net';
import type { KafkaWriter } from '../../src/protocols/kafka/codec/writer.js';
import { KafkaReader } from '../../src/protocols/kafka/codec/reader.js';
import { frameSplitter, requestFrame } from './raw-frames.js';

export class RawKafka {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: KafkaReader) => void>();
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on(
      'data',
      frameSplitter((frame) => {
        const r = new KafkaReader(frame);
        const id = r.int32();
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        w?.(r);
      }),
    );
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawKafka> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawKafka(s)));
      s.once('error', reject);
    });
  }

  call<T>(apiKey: number, version: number, body: (w: KafkaWriter) => void, decode: (r: KafkaReader) => T): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (r) => {
        try {
          resolve(decode(r));
        } catch (err) {
          reject(err as Error);
        }
      });
      this.socket.once('close', () => reject(new Error('connection closed')));
      this.socket.write(requestFrame(apiKey, version, id, body));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
