// The publish path without per-frame objects (connection.ts): basic.publish, its content header and body
// frames on an open channel, read in place from the socket buffer. The generic path (AmqpConnection.onFrame)
// gives the same results, errors included, and takes every frame these decline (InPlace.No).
import { decodeContentHeader } from './codec/content-header.js';
import type { AmqpFrameView } from './codec/frame.js';
import type { AmqpChannel } from './channel.js';

export const enum InPlace {
  /** Not handled: take the generic path. */
  No = 0,
  /** Handled. */
  Done = 1,
  /** Handled, and the channel's content is now complete. */
  Complete = 2,
  /** Handled, a body part of a content still incomplete. */
  Partial = 3,
}

/** basic.publish (class 60, method 40) on an open channel with no content pending. */
export function publishMethodInPlace(channels: Map<number, AmqpChannel>, v: AmqpFrameView): InPlace {
  const b = v.buf;
  const end = v.end;
  let p = v.start;
  // class-id, method-id, ticket, exchange length, routing key length, bits: at least 9 bytes.
  if (end - p < 9 || b[p] !== 0 || b[p + 1] !== 60 || b[p + 2] !== 0 || b[p + 3] !== 40) return InPlace.No;
  const ch = channels.get(v.channel);
  if (ch === undefined || ch.closing) return InPlace.No;
  const pc = ch.pending;
  if (pc.active) return InPlace.No;
  p += 6;
  const xl = b[p++]!;
  if (p + xl + 2 > end) return InPlace.No;
  const xAt = p;
  p += xl;
  const kl = b[p++]!;
  if (p + kl + 1 !== end) return InPlace.No;
  const bits = b[p + kl]!;
  pc.begin(pc.exchangeAt(b, xAt, xl), pc.routingKeyAt(b, p, kl), (bits & 1) !== 0, (bits & 2) !== 0);
  return InPlace.Done;
}

/** The content header of a publish whose body fits the size limit; a repeated properties block is not decoded again. */
export function contentHeaderInPlace(channels: Map<number, AmqpChannel>, v: AmqpFrameView, messageBytesMax: number): InPlace {
  const pc = channels.get(v.channel)?.pending;
  if (pc === undefined || !pc.active || pc.props !== undefined) return InPlace.No;
  const b = v.buf;
  const p = v.start;
  if (v.end - p < 14 || b[p] !== 0 || b[p + 1] !== 60) return InPlace.No;
  const size = b.readUInt32BE(p + 8);
  if (b.readUInt32BE(p + 4) !== 0 || size > messageBytesMax) return InPlace.No;
  let props = pc.repeatedProps(b, p + 12, v.end);
  if (props === undefined) {
    props = decodeContentHeader(b.subarray(p, v.end)).properties;
    pc.rememberProps(b, p + 12, v.end, props);
  }
  pc.props = props;
  pc.bodySize = size;
  return size === 0 ? InPlace.Complete : InPlace.Done;
}

/** A body frame of the publish being assembled on its channel, when it does not overrun the declared size. */
export function bodyInPlace(channels: Map<number, AmqpChannel>, v: AmqpFrameView): InPlace {
  const pc = channels.get(v.channel)?.pending;
  if (pc === undefined || !pc.active || pc.props === undefined || pc.received + (v.end - v.start) > pc.bodySize) return InPlace.No;
  pc.addPart(v.buf.subarray(v.start, v.end));
  return pc.received === pc.bodySize ? InPlace.Complete : InPlace.Partial;
}
