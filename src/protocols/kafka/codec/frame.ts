// Request and response headers (README §1). Request header v1: api_key, api_version, correlation_id,
// client_id (int16-length nullable string, even in v2); v2 adds a tagged-field section and is used exactly
// when the API version is flexible. Response header v0: correlation_id; v1 adds tags — except ApiVersions,
// whose response header is always v0.
import { KafkaDecodeError, KafkaReader } from './reader.js';
import { KafkaWriter } from './writer.js';

export const API_VERSIONS_KEY = 18;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Parses a request header from a frame body (without the size prefix); `flexible(apiKey, version)` says which header version applies. */
export function readRequestHeader(r: KafkaReader, flexible: (apiKey: number, version: number) => boolean): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString(false);
  if (flexible(apiKey, apiVersion)) r.skipTaggedFields();
  return { apiKey, apiVersion, correlationId, clientId };
}

export function writeRequestHeader(w: KafkaWriter, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey);
  w.int16(h.apiVersion);
  w.int32(h.correlationId);
  w.nullableString(h.clientId, false);
  if (flexible) w.uvarint(0);
}

/** Writes the response header; ApiVersions always gets header v0. */
export function writeResponseHeader(w: KafkaWriter, correlationId: number, apiKey: number, flexible: boolean): void {
  w.int32(correlationId);
  if (flexible && apiKey !== API_VERSIONS_KEY) w.uvarint(0);
}

/** Splits complete size-prefixed frames off `buf`; returns the bodies and the unconsumed rest. */
export function splitFrames(buf: Buffer, frameBytesMax: number): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let p = 0;
  while (buf.length - p >= 4) {
    const size = buf.readInt32BE(p);
    if (size < 0 || size > frameBytesMax) throw new KafkaDecodeError(`frame of ${size} bytes exceeds the limit of ${frameBytesMax}`);
    if (buf.length - p - 4 < size) break;
    frames.push(buf.subarray(p + 4, p + 4 + size));
    p += 4 + size;
  }
  return { frames, rest: buf.subarray(p) };
}

/** A whole response frame (size prefix + header + body) as pieces for writev. */
export function responseFrame(correlationId: number, apiKey: number, flexible: boolean, encodeBody: (w: KafkaWriter) => void): Buffer[] {
  const w = new KafkaWriter();
  w.int32(0); // size, patched below
  writeResponseHeader(w, correlationId, apiKey, flexible);
  encodeBody(w);
  const chunks = w.chunks();
  chunks[0]!.writeInt32BE(w.length - 4, 0);
  return chunks;
}
