// Checksummed journal frames, shared by the metadata journal (meta/) and the settlement journals
// (queue-state/): [u32 payload length][u32 crc32c(payload)][payload]. At open a journal is read frame by
// frame; the first frame that does not check is either a torn tail (an append cut short by a crash: the
// damage reaches the end of the file, nothing valid follows) or corruption in the middle (a valid frame
// follows it somewhere). Only a torn tail may be truncated: dropping valid entries after a damaged one
// would silently lose acknowledged changes.
import { crc32c } from '@node-rs/crc32';

export const FRAME_HEADER_BYTES = 8;

export interface FrameLimits {
  /** Smallest valid payload (a length below it is damage). */
  payloadBytesMin: number;
  payloadBytesMax: number;
  /** Checks a payload whose checksum matched (its structure). */
  validPayload?: (payload: Buffer) => boolean;
}

export type FrameCheck = { ok: true; payload: Buffer; end: number } | { ok: false; reason: string };

/** The frame at `pos` of `buf[0, end)`. */
export function checkFrame(buf: Buffer, pos: number, end: number, limits: FrameLimits): FrameCheck {
  if (end - pos < FRAME_HEADER_BYTES) return { ok: false, reason: 'short header' };
  const len = buf.readUInt32BE(pos);
  if (len < limits.payloadBytesMin || len > limits.payloadBytesMax) return { ok: false, reason: 'bad length' };
  const frameEnd = pos + FRAME_HEADER_BYTES + len;
  if (frameEnd > end) return { ok: false, reason: 'short entry' };
  const payload = buf.subarray(pos + FRAME_HEADER_BYTES, frameEnd);
  if (crc32c(payload) !== buf.readUInt32BE(pos + 4)) return { ok: false, reason: 'bad checksum' };
  if (limits.validPayload && !limits.validPayload(payload)) return { ok: false, reason: 'bad entry' };
  return { ok: true, payload, end: frameEnd };
}

/**
 * After a bad frame at `badPos`: the position of the first later frame that checks (checksum and
 * structure), or -1 when there is none (a torn tail). Scans every byte position after `badPos`: a damaged
 * length field says nothing about where the next frame begins.
 */
export function findValidFrameAfter(buf: Buffer, badPos: number, end: number, limits: FrameLimits): number {
  for (let p = badPos + 1; p + FRAME_HEADER_BYTES + limits.payloadBytesMin <= end; p++) {
    const len = buf.readUInt32BE(p);
    if (len < limits.payloadBytesMin || len > limits.payloadBytesMax || p + FRAME_HEADER_BYTES + len > end) continue;
    if (checkFrame(buf, p, end, limits).ok) return p;
  }
  return -1;
}
