// Named limits of the AMQP 0-9-1 codec (design.md §8).
export const AmqpCodecLimits = {
  /** shortstr: u8 length. */
  shortstrBytesMax: 255,
  /** Field tables/arrays nested deeper than this are refused (502) — bounds recursion on hostile input. */
  fieldTableDepthMax: 32,
  /** Frame size before tune-ok (the JSON's FRAME-MIN-SIZE; README §3). */
  frameMaxBeforeTune: 8192,
  /** Smallest negotiated frame-max we accept (README §3: >= 4096 keeps old clients working). */
  frameMaxMin: 4096,
  /** frame-max RabbitMQ proposes in tune. */
  frameMaxDefault: 131072,
  /** Ceiling used when frame-max is 0 ("unlimited"). */
  frameMaxUnlimited: 128 * 1024 * 1024,
  /** RabbitMQ tolerates payloads this many bytes over frame-max - 8 (README §1). */
  frameOverheadBytes: 8,
  /** Bodies at most this long are copied into a single chunk by encodeBodyFrames; longer ones are sliced. */
  bodyCopyBytesMax: 16 * 1024,
} as const;
