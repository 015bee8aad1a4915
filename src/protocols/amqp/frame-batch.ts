// Outgoing content in bulk: deliveries (and returns, get-oks) of one turn are encoded back to back into one
// growable buffer and leave in a single socket write, instead of three or more small buffers per message.
import { writeBasicProperties, type BasicProperties } from './codec/generated/basic-properties.js';
import { FRAME_END, FrameType } from './codec/generated/constants.js';
import { AmqpWriter } from './codec/writer.js';

const BASIC_DELIVER = (60 << 16) | 60;

export class FrameBatch {
  private readonly w = new AmqpWriter(64 * 1024);

  get length(): number {
    return this.w.pos;
  }

  /** basic.deliver + content header + body frames. */
  delivery(channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, exchange: string, routingKey: string, props: BasicProperties, body: Buffer, frameMax: number): void {
    const w = this.w;
    const start = this.open(FrameType.Method, channel);
    w.long(BASIC_DELIVER);
    w.shortstr(consumerTag);
    w.ensure(9);
    w.pos = w.buf.writeUInt32BE(Math.floor(deliveryTag / 0x1_0000_0000), w.pos);
    w.pos = w.buf.writeUInt32BE(deliveryTag >>> 0, w.pos);
    w.octet(redelivered ? 1 : 0);
    w.shortstr(exchange);
    w.shortstr(routingKey);
    this.close(start);
    this.content(channel, props, body, frameMax);
  }

  /** Content header + body frames (after a method the caller encoded). */
  content(channel: number, props: BasicProperties, body: Buffer, frameMax: number): void {
    const w = this.w;
    const start = this.open(FrameType.Header, channel);
    w.short(60);
    w.short(0);
    w.ensure(8);
    w.pos = w.buf.writeUInt32BE(Math.floor(body.length / 0x1_0000_0000), w.pos);
    w.pos = w.buf.writeUInt32BE(body.length >>> 0, w.pos);
    writeBasicProperties(w, props);
    this.close(start);
    const per = frameMax === 0 ? body.length : frameMax - 8;
    for (let at = 0; at < body.length; at += per) {
      const n = Math.min(per, body.length - at);
      w.ensure(n + 8);
      w.buf[w.pos] = FrameType.Body;
      w.buf.writeUInt16BE(channel, w.pos + 1);
      w.buf.writeUInt32BE(n, w.pos + 3);
      body.copy(w.buf, w.pos + 7, at, at + n);
      w.pos += 7 + n;
      w.buf[w.pos++] = FRAME_END;
    }
  }

  /** Appends ready-made frames (a method frame). */
  raw(b: Buffer): void {
    this.w.bytes(b);
  }

  /** The encoded bytes (a copy); the batch is empty afterwards. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.w.pos);
    this.w.buf.copy(out, 0, 0, this.w.pos);
    this.w.reset();
    if (this.w.buf.length > 4 * 1024 * 1024) this.w.buf = Buffer.allocUnsafe(64 * 1024);
    return out;
  }

  private open(type: number, channel: number): number {
    const w = this.w;
    w.ensure(7);
    const start = w.pos;
    w.buf[start] = type;
    w.buf.writeUInt16BE(channel, start + 1);
    w.pos += 7;
    return start;
  }

  private close(start: number): void {
    const w = this.w;
    w.buf.writeUInt32BE(w.pos - start - 7, start + 3);
    w.octet(FRAME_END);
  }
}
