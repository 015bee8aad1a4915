// A publish being assembled from its frames (method, content header, body frames) on one channel, and the
// per-connection count of the body bytes held by such incomplete contents (a named limit bounds it:
// AmqpSettings.incompleteContentBytesMax).
import type { BasicProperties } from './codec/generated/basic-properties.js';

/** Body bytes of the incomplete contents of one connection (all its channels). */
export interface ContentAssembly {
  bytes: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * A publish being assembled on a channel (method, then content header, then body frames). One per channel,
 * reused. It also remembers the last exchange, routing key and properties bytes seen on the channel, so that
 * a publisher repeating them (the usual case) gets the same decoded strings and properties object back
 * without decoding again.
 */
export class PendingContent {
  constructor(private readonly assembly: ContentAssembly) {}

  active = false;
  exchange = '';
  routingKey = '';
  mandatory = false;
  immediate = false;
  props: BasicProperties | undefined = undefined;
  bodySize = 0;
  received = 0;
  /** The first body part, then any further ones. */
  first: Buffer | undefined = undefined;
  rest: Buffer[] | undefined = undefined;
  private lastExchangeBytes: Buffer = EMPTY;
  private lastExchange = '';
  private lastKeyBytes: Buffer = EMPTY;
  private lastKey = '';
  /** Raw property flags + properties of the last content header decoded, and what they decoded to. */
  private lastPropsBytes: Buffer | undefined = undefined;
  private lastProps: BasicProperties | undefined = undefined;

  begin(exchange: string, routingKey: string, mandatory: boolean, immediate: boolean): void {
    this.assembly.bytes -= this.received;
    this.active = true;
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.mandatory = mandatory;
    this.immediate = immediate;
    this.props = undefined;
    this.bodySize = 0;
    this.received = 0;
    this.first = undefined;
    this.rest = undefined;
  }

  reset(): void {
    this.assembly.bytes -= this.received;
    this.received = 0;
    this.active = false;
    this.props = undefined;
    this.first = undefined;
    this.rest = undefined;
  }

  /** Adds a body frame's payload. */
  addPart(b: Buffer): void {
    this.received += b.length;
    this.assembly.bytes += b.length;
    if (this.first === undefined) this.first = b;
    else (this.rest ??= []).push(b);
  }

  get body(): Buffer {
    if (this.first === undefined) return EMPTY;
    if (this.rest === undefined) return this.first;
    return Buffer.concat([this.first, ...this.rest], this.received);
  }

  /** buf[at, at + n) as a string: the exchange name, the same string object when the bytes repeat. */
  exchangeAt(buf: Buffer, at: number, n: number): string {
    if (sameBytes(buf, at, n, this.lastExchangeBytes)) return this.lastExchange;
    this.lastExchange = n === 0 ? '' : buf.toString('utf8', at, at + n);
    this.lastExchangeBytes = Buffer.from(buf.subarray(at, at + n));
    return this.lastExchange;
  }

  /** The same for the routing key. */
  routingKeyAt(buf: Buffer, at: number, n: number): string {
    if (sameBytes(buf, at, n, this.lastKeyBytes)) return this.lastKey;
    this.lastKey = n === 0 ? '' : buf.toString('utf8', at, at + n);
    this.lastKeyBytes = Buffer.from(buf.subarray(at, at + n));
    return this.lastKey;
  }

  /** The decoded properties when buf[at, end) repeats the last properties bytes decoded, else undefined. */
  repeatedProps(buf: Buffer, at: number, end: number): BasicProperties | undefined {
    const last = this.lastPropsBytes;
    return last !== undefined && sameBytes(buf, at, end - at, last) ? this.lastProps : undefined;
  }

  /** Remembers what buf[at, end) decoded to. */
  rememberProps(buf: Buffer, at: number, end: number, props: BasicProperties): void {
    if (end - at > PROPS_MEMO_BYTES_MAX) return;
    this.lastPropsBytes = Buffer.from(buf.subarray(at, end));
    this.lastProps = props;
  }
}

/** Properties blocks longer than this are not remembered (large headers tables rarely repeat verbatim). */
const PROPS_MEMO_BYTES_MAX = 1024;

function sameBytes(buf: Buffer, at: number, n: number, prev: Buffer): boolean {
  if (prev.length !== n) return false;
  if (n > 32) return buf.compare(prev, 0, n, at, at + n) === 0;
  for (let i = 0; i < n; i++) if (buf[at + i] !== prev[i]) return false;
  return true;
}

