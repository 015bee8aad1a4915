// Outgoing content in bulk: deliveries (and returns, get-oks) of one turn are encoded back to back into one
// growable buffer and leave in a single socket write, instead of three or more small buffers per message.
import type { BasicProperties } from './codec/generated/basic-properties.js';
import { FRAME_END, FrameType } from './codec/generated/constants.js';
import { AmqpWriter } from './codec/writer.js';
import { deliveryPropertiesBytes, expressibleShortstr } from './deliverable.js';

const BASIC_DELIVER = (60 << 16) | 60;
/** A batch at least this large (and filling at least half its buffer) leaves without a copy. */
const HAND_OVER_BYTES_MIN = 16 * 1024;
/** Buffers larger than this are not kept once written. */
const BUFFER_KEEP_BYTES_MAX = 4 * 1024 * 1024;
/** Written buffers kept for reuse per connection. */
const SPARES_MAX = 2;

/** What flushTo needs of a socket. */
export interface WritableSocket {
  write(data: Buffer, cb?: (err?: Error | null) => void): boolean;
}

export class FrameBatch {
  private readonly w = new AmqpWriter(64 * 1024);

  get length(): number {
    return this.w.pos;
  }

  /**
   * basic.deliver + content header + body frames. The properties are encoded first (fields AMQP cannot carry
   * dropped, deliverable.ts): nothing can fail once the first byte of the delivery is in the batch.
   */
  delivery(channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, exchange: string, routingKey: string, props: BasicProperties, body: Buffer, frameMax: number): void {
    this.deliveryEncoded(channel, consumerTag, deliveryTag, redelivered, exchange, routingKey, deliveryPropertiesBytes(props, frameMax), body, frameMax);
  }

  /**
   * basic.deliver + content header + body frames, with the properties already encoded (property flags and
   * properties, as encodeBasicProperties gives them). The method frame's fixed parts (channel, consumer tag,
   * exchange, routing key) are encoded once and copied while they repeat.
   */
  deliveryEncoded(channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, exchange: string, routingKey: string, props: Buffer, body: Buffer, frameMax: number): void {
    if (channel !== this.dChannel || consumerTag !== this.dTag || exchange !== this.dExchange || routingKey !== this.dKey) this.prepareDeliver(channel, consumerTag, exchange, routingKey);
    const head = this.dHead;
    const tail = this.dTail;
    const n = body.length;
    const per = frameMax === 0 ? n : frameMax - 8;
    const bodyFrames = n === 0 ? 0 : Math.ceil(n / per);
    const w = this.w;
    w.ensure(head.length + 9 + tail.length + 20 + props.length + n + 8 * bodyFrames);
    const buf = w.buf;
    let pos = w.pos;
    buf.set(head, pos);
    pos += head.length;
    buf.writeUInt32BE(Math.floor(deliveryTag / 0x1_0000_0000), pos);
    buf.writeUInt32BE(deliveryTag >>> 0, pos + 4);
    buf[pos + 8] = redelivered ? 1 : 0;
    pos += 9;
    buf.set(tail, pos);
    pos += tail.length;
    // Content header: class 60, weight 0, body size, then the properties.
    buf[pos] = FrameType.Header;
    buf[pos + 1] = channel >>> 8;
    buf[pos + 2] = channel & 0xff;
    buf.writeUInt32BE(12 + props.length, pos + 3);
    buf[pos + 7] = 0;
    buf[pos + 8] = 60;
    buf[pos + 9] = 0;
    buf[pos + 10] = 0;
    buf.writeUInt32BE(Math.floor(n / 0x1_0000_0000), pos + 11);
    buf.writeUInt32BE(n >>> 0, pos + 15);
    pos += 19;
    buf.set(props, pos);
    pos += props.length;
    buf[pos++] = FRAME_END;
    for (let at = 0; at < n; at += per) {
      const k = Math.min(per, n - at);
      buf[pos] = FrameType.Body;
      buf[pos + 1] = channel >>> 8;
      buf[pos + 2] = channel & 0xff;
      buf.writeUInt32BE(k, pos + 3);
      pos += 7;
      if (at === 0 && k === n) buf.set(body, pos);
      else body.copy(buf, pos, at, at + k);
      pos += k;
      buf[pos++] = FRAME_END;
    }
    w.pos = pos;
  }

  private dChannel = -1;
  private dTag = '';
  private dExchange = '';
  private dKey = '';
  /** Frame header, class/method and consumer tag of a basic.deliver; then (after tag and flag) the rest. */
  private dHead: Buffer = Buffer.alloc(0);
  private dTail: Buffer = Buffer.alloc(0);

  private prepareDeliver(channel: number, consumerTag: string, exchange: string, routingKey: string): void {
    // Checked before anything is kept: a name that is no shortstr goes out empty (a dropped field).
    const x = expressibleShortstr(exchange, 'exchange');
    const k = expressibleShortstr(routingKey, 'routing-key');
    const h = new AmqpWriter(64);
    h.octet(FrameType.Method);
    h.short(channel);
    h.long(0); // size, below
    h.long(BASIC_DELIVER);
    h.shortstr(consumerTag);
    const t = new AmqpWriter(64);
    t.shortstr(x);
    t.shortstr(k);
    t.octet(FRAME_END);
    const head = h.take();
    const tail = t.take();
    head.writeUInt32BE(head.length - 7 + 9 + tail.length - 1, 3);
    this.dHead = head;
    this.dTail = tail;
    this.dChannel = channel;
    this.dTag = consumerTag;
    this.dExchange = exchange;
    this.dKey = routingKey;
  }

  /** Content header + body frames (after a method the caller encoded); properties checked as for delivery. */
  content(channel: number, props: BasicProperties, body: Buffer, frameMax: number): void {
    const encoded = deliveryPropertiesBytes(props, frameMax);
    const w = this.w;
    const start = this.open(FrameType.Header, channel);
    w.short(60);
    w.short(0);
    w.ensure(8);
    w.pos = w.buf.writeUInt32BE(Math.floor(body.length / 0x1_0000_0000), w.pos);
    w.pos = w.buf.writeUInt32BE(body.length >>> 0, w.pos);
    w.bytes(encoded);
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
    const w = this.w;
    const out = Buffer.allocUnsafe(w.pos);
    w.buf.copy(out, 0, 0, w.pos);
    if (w.buf.length > BUFFER_KEEP_BYTES_MAX) w.buf = Buffer.allocUnsafe(64 * 1024);
    w.reset();
    return out;
  }

  /**
   * Writes the batch to the socket; the batch is empty afterwards. A small batch is copied out; a large one
   * leaves in its own buffer (no copy) and the batch goes on in a spare one. Buffers come back as spares
   * once the socket has written them, so a busy connection does not allocate a new buffer per turn (external
   * memory churn is what drives the garbage collector at high delivery rates).
   */
  flushTo(socket: WritableSocket): void {
    const w = this.w;
    if (w.pos === 0) return;
    if (w.pos < HAND_OVER_BYTES_MIN || w.pos < w.buf.length / 2) {
      socket.write(this.take());
      return;
    }
    const full = w.buf;
    this.lent.push(full);
    socket.write(full.subarray(0, w.pos), this.written);
    w.buf = this.spare.pop() ?? Buffer.allocUnsafe(Math.min(full.length, BUFFER_KEEP_BYTES_MAX));
    w.reset();
  }

  /** Buffers handed to the socket, in write order, and buffers free for reuse. */
  private readonly lent: Buffer[] = [];
  private readonly spare: Buffer[] = [];

  private readonly written = (err?: Error | null): void => {
    const b = this.lent.shift();
    if (b !== undefined && !err && b.length <= BUFFER_KEEP_BYTES_MAX && this.spare.length < SPARES_MAX) this.spare.push(b);
  };

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
