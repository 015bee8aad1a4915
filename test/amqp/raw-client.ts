// A raw AMQP client for bad-input tests: speaks frames with the broker's own codec, so tests can send what
// no real client would.
import { connect as netConnect, type Socket } from 'node:net';
import { AmqpFrameParser, PROTOCOL_HEADER, type AmqpFrame } from '../../src/protocols/amqp/codec/frame.js';
import { FrameType } from '../../src/protocols/amqp/codec/generated/constants.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';

export class RawClient {
  readonly frames: AmqpFrame[] = [];
  readonly raw: Buffer[] = [];
  closed = false;
  private readonly parser = new AmqpFrameParser({ expectProtocolHeader: false, frameMax: 0 });
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.raw.push(d);
      this.parser.push(d);
      try {
        for (let f = this.parser.next(); f; f = this.parser.next()) if (f.type !== 'protocol-header') this.frames.push(f);
      } catch {
        /* a raw protocol header back is not a frame */
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  /** Waits for a method frame satisfying pred (or the socket to close: then undefined). */
  async method(pred: (m: M.AmqpMethod, channel: number) => boolean, ms = 3000): Promise<M.AmqpMethod | undefined> {
    const deadline = Date.now() + ms;
    let seen = 0;
    for (;;) {
      for (; seen < this.frames.length; seen++) {
        const f = this.frames[seen]!;
        if (f.type !== FrameType.Method) continue;
        const m = M.decodeMethod(f.payload);
        if (pred(m, f.channel)) return m;
      }
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error(`timed out waiting for a method; got ${this.frames.length} frame(s)`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async waitClosed(ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  /** Protocol header, start-ok (PLAIN guest/guest), tune-ok, open; then channel 1 open. */
  async handshake(opts: { openChannel?: boolean } = {}): Promise<void> {
    this.send(PROTOCOL_HEADER);
    await this.method((m) => m.name === 'connection.start');
    this.send(M.encodeConnectionStartOkFrame(0, { clientProperties: [], mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }));
    await this.method((m) => m.name === 'connection.tune');
    this.send(M.encodeConnectionTuneOkFrame(0, { channelMax: 2047, frameMax: 131072, heartbeat: 0 }));
    this.send(M.encodeConnectionOpenFrame(0, { virtualHost: '/', capabilities: '', insist: false }));
    await this.method((m) => m.name === 'connection.open-ok');
    if (opts.openChannel !== false) {
      this.send(M.encodeChannelOpenFrame(1, { outOfBand: '' }));
      await this.method((m, ch) => m.name === 'channel.open-ok' && ch === 1);
    }
  }

  /** The connection.close the broker sent (or undefined if it just dropped the socket). */
  connectionClose(ms = 3000): Promise<M.AmqpMethod | undefined> {
    return this.method((m) => m.name === 'connection.close', ms);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
