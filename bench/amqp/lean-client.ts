// A lean AMQP 0-9-1 client for load generation: the same bytes against Junction and RabbitMQ. Publishes are
// pre-encoded templates copied into one buffer per socket write; deliveries are parsed in place (no method
// decoding on the hot path). Built on the broker's own codec only for the handshake and control methods.
import { connect as netConnect, type Socket } from 'node:net';
import { encodeContentHeaderFrame } from '../../src/protocols/amqp/codec/content-header.js';
import { PROTOCOL_HEADER } from '../../src/protocols/amqp/codec/frame.js';
import { FrameType } from '../../src/protocols/amqp/codec/generated/constants.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';

export interface LeanOptions {
  host: string;
  port: number;
  user?: string;
  password?: string;
}

/** Called per delivery: delivery tag and the first 8 body bytes (the send time stamp), read in place. */
export type OnDelivery = (deliveryTag: number, sentNs: bigint) => void;

export class LeanClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Array<{ pred: (m: M.AmqpMethod) => boolean; resolve: (m: M.AmqpMethod) => void }> = [];
  onDelivery: OnDelivery | undefined;
  onConfirm: ((tag: number, multiple: boolean, nack: boolean) => void) | undefined;
  /** After each chunk of deliveries (for batched acks). */
  onChunkEnd: (() => void) | undefined;
  private expectBody = false;
  frameMax = 131072;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
  }

  static async connect(o: LeanOptions): Promise<LeanClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect(o.port, o.host, () => resolve(s));
      s.once('error', reject);
    });
    const c = new LeanClient(socket);
    socket.write(PROTOCOL_HEADER);
    await c.expect((m) => m.name === 'connection.start');
    socket.write(M.encodeConnectionStartOkFrame(0, { clientProperties: [['product', { type: 'longstr', value: Buffer.from('junction-bench') }]], mechanism: 'PLAIN', response: Buffer.from(`\0${o.user ?? 'guest'}\0${o.password ?? 'guest'}`), locale: 'en_US' }));
    const tune = (await c.expect((m) => m.name === 'connection.tune')) as M.ConnectionTune;
    c.frameMax = tune.args.frameMax || 131072;
    socket.write(M.encodeConnectionTuneOkFrame(0, { channelMax: tune.args.channelMax, frameMax: c.frameMax, heartbeat: 0 }));
    socket.write(M.encodeConnectionOpenFrame(0, { virtualHost: '/', capabilities: '', insist: false }));
    await c.expect((m) => m.name === 'connection.open-ok');
    socket.write(M.encodeChannelOpenFrame(1, { outOfBand: '' }));
    await c.expect((m) => m.name === 'channel.open-ok');
    return c;
  }

  /** Sends a method and waits for the reply named. */
  async rpc(frame: Buffer, reply: string): Promise<M.AmqpMethod> {
    this.socket.write(frame);
    return this.expect((m) => m.name === reply);
  }

  private expect(pred: (m: M.AmqpMethod) => boolean): Promise<M.AmqpMethod> {
    return new Promise((resolve) => this.waiting.push({ pred, resolve }));
  }

  private onControl(m: M.AmqpMethod): void {
    if (m.name === 'connection.close' || m.name === 'channel.close') {
      process.stderr.write(`server closed: ${JSON.stringify(m.args)}\n`);
      process.exit(3);
    }
    const i = this.waiting.findIndex((w) => w.pred(m));
    if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
  }

  private onData(d: Buffer): void {
    let buf = this.buf.length > 0 ? Buffer.concat([this.buf, d]) : d;
    let p = 0;
    while (buf.length - p >= 7) {
      const type = buf[p]!;
      const size = buf.readUInt32BE(p + 3);
      if (buf.length - p < size + 8) break;
      const start = p + 7;
      if (type === FrameType.Method) {
        const classId = buf.readUInt16BE(start);
        const methodId = buf.readUInt16BE(start + 2);
        if (classId === 60 && methodId === 60) {
          // basic.deliver: consumer-tag shortstr, then delivery-tag u64
          const tagLen = buf[start + 4]!;
          const tag = Number(buf.readBigUInt64BE(start + 5 + tagLen));
          this.pendingTag = tag;
          this.expectBody = true;
        } else if (classId === 60 && (methodId === 80 || methodId === 120)) {
          const tag = Number(buf.readBigUInt64BE(start + 4));
          const multiple = (buf[start + 12]! & 1) === 1;
          this.onConfirm?.(tag, multiple, methodId === 120);
        } else {
          this.onControl(M.decodeMethod(buf.subarray(start, start + size)));
        }
      } else if (type === FrameType.Body) {
        if (this.expectBody) {
          this.expectBody = false;
          this.onDelivery?.(this.pendingTag, size >= 8 ? buf.readBigUInt64BE(start) : 0n);
        }
      } else if (type === FrameType.Header) {
        const bodySize = Number(buf.readBigUInt64BE(start + 4));
        if (bodySize === 0 && this.expectBody) {
          this.expectBody = false;
          this.onDelivery?.(this.pendingTag, 0n);
        }
      }
      p += size + 8;
    }
    this.buf = p < buf.length ? Buffer.from(buf.subarray(p)) : Buffer.alloc(0);
    this.onChunkEnd?.();
  }

  private pendingTag = 0;

  /** Pre-encoded publish: method + header; the body frame is written per message with a fresh timestamp. */
  publishTemplate(exchange: string, routingKey: string, bodySize: number, persistent: boolean): { head: Buffer; bodyFrameSize: number } {
    const method = M.encodeBasicPublishFrame(1, { ticket: 0, exchange, routingKey, mandatory: false, immediate: false });
    const header = encodeContentHeaderFrame(1, bodySize, { deliveryMode: persistent ? 2 : 1 });
    return { head: Buffer.concat([method, header]), bodyFrameSize: bodySize + 8 };
  }

  /** Writes `count` publishes in one socket write; the body's first 8 bytes carry hrtime (ns). */
  publishBatch(t: { head: Buffer; bodyFrameSize: number }, bodySize: number, count: number): boolean {
    const per = t.head.length + t.bodyFrameSize;
    const out = Buffer.allocUnsafe(per * count);
    const now = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const at = i * per;
      t.head.copy(out, at);
      const b = at + t.head.length;
      out[b] = FrameType.Body;
      out.writeUInt16BE(1, b + 1);
      out.writeUInt32BE(bodySize, b + 3);
      out.fill(0x61, b + 7, b + 7 + bodySize);
      if (bodySize >= 8) out.writeBigUInt64BE(now, b + 7);
      out[b + 7 + bodySize] = 0xce;
    }
    return this.socket.write(out);
  }

  ack(tag: number, multiple: boolean): void {
    this.socket.write(M.encodeBasicAckFrame(1, { deliveryTag: BigInt(tag), multiple }));
  }

  close(): void {
    this.socket.destroy();
  }
}
