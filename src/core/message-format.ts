// The `jx.p` record header format shared by the message codec's encoder (message-codec.ts) and decoder
// (message-decode.ts): names, presence bits, value tags and errors. The format itself is described at the
// top of message-codec.ts.
import { BrokerError, ErrorCode } from '../lib/errors.js';

export const RESERVED_HEADER_PREFIX = 'jx.';
export const PROPERTIES_HEADER_KEY = 'jx.p';
export const PROPERTIES_FORMAT_VERSION = 1;
/** Deepest nesting of tables/arrays inside a headers table (guards the decoder's recursion). */
export const FIELD_NESTING_DEPTH_MAX = 64;

export const enum Bit {
  ContentType = 1 << 0,
  ContentEncoding = 1 << 1,
  CorrelationId = 1 << 2,
  ReplyTo = 1 << 3,
  MessageId = 1 << 4,
  Type = 1 << 5,
  UserId = 1 << 6,
  AppId = 1 << 7,
  ClusterId = 1 << 8,
  Priority = 1 << 9,
  ExpirationMs = 1 << 10,
  Persistent = 1 << 11,
  TimestampMs = 1 << 12,
  Headers = 1 << 13,
  Exchange = 1 << 14,
  RoutingKey = 1 << 15,
}

export const enum Tag {
  Void = 0,
  Bool = 1,
  Int8 = 2,
  Uint8 = 3,
  Int16 = 4,
  Uint16 = 5,
  Int32 = 6,
  Uint32 = 7,
  Int64 = 8,
  Uint64 = 9,
  Float = 10,
  Double = 11,
  Decimal = 12,
  Timestamp = 13,
  Shortstr = 14,
  Longstr = 15,
  Bytes = 16,
  Table = 17,
  Array = 18,
}

export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;
export const UINT64_MAX = (1n << 64n) - 1n;

export function isReservedHeaderKey(key: string): boolean {
  return key.startsWith(RESERVED_HEADER_PREFIX);
}

export const invalid = (what: string) => new BrokerError(ErrorCode.InvalidArgument, what);
export const corrupt = (what: string) => new BrokerError(ErrorCode.CorruptData, `corrupt message properties: ${what}`);

/** Presence bits 0-8, in order: the string properties. */
export const STRING_PROPS = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'messageId', 'type', 'userId', 'appId', 'clusterId'] as const;
