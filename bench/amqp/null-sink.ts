// A null AMQP broker for measuring the load generator's own ceiling: it completes the handshake, answers
// the few control methods the generator sends, confirms every publish at once and discards the messages.
import { createServer, type Socket } from 'node:net';
import { FrameType } from '../../src/protocols/amqp/codec/generated/constants.js';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let headerSeen = false;
  let confirm = false;
  let seq = 0;
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    let buf = pending.length ? Buffer.concat([pending, d]) : d;
    let p = 0;
    if (!headerSeen) {
      if (buf.length < 8) {
        pending = buf;
        return;
      }
      headerSeen = true;
      p = 8;
      socket.write(M.encodeConnectionStartFrame(0, { versionMajor: 0, versionMinor: 9, serverProperties: [], mechanisms: Buffer.from('PLAIN'), locales: Buffer.from('en_US') }));
    }
    const before = seq;
    while (buf.length - p >= 7) {
      const type = buf[p]!;
      const ch = buf.readUInt16BE(p + 1);
      const size = buf.readUInt32BE(p + 3);
      if (buf.length - p < size + 8) break;
      if (type === FrameType.Method) {
        const cls = buf.readUInt16BE(p + 7);
        const mid = buf.readUInt16BE(p + 9);
        if (cls === 60 && mid === 40) seq++;
        else {
          const m = M.decodeMethod(buf.subarray(p + 7, p + 7 + size));
          if (m.name === 'connection.start-ok') socket.write(M.encodeConnectionTuneFrame(0, { channelMax: 2047, frameMax: 131072, heartbeat: 0 }));
          else if (m.name === 'connection.open') socket.write(M.encodeConnectionOpenOkFrame(0, { knownHosts: '' }));
          else if (m.name === 'channel.open') socket.write(M.encodeChannelOpenOkFrame(ch, { channelId: Buffer.alloc(0) }));
          else if (m.name === 'queue.declare') socket.write(M.encodeQueueDeclareOkFrame(ch, { queue: m.args.queue, messageCount: 0, consumerCount: 0 }));
          else if (m.name === 'confirm.select') {
            confirm = true;
            socket.write(M.encodeConfirmSelectOkFrame(ch, {}));
          }
        }
      }
      p += size + 8;
    }
    pending = p < buf.length ? Buffer.from(buf.subarray(p)) : Buffer.alloc(0);
    if (confirm && seq > before) socket.write(M.encodeBasicAckFrame(1, { deliveryTag: BigInt(seq), multiple: true }));
  });
  socket.on('error', () => undefined);
}

export function startNullSink(port = 0): Promise<{ port: number; close(): void }> {
  const server = createServer(serve);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, close: () => server.close() })));
}
