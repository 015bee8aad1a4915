// Typed failures of the AMQP 0-9-1 codec. Decoding never throws anything else for malformed input: the
// connection maps `replyCode` to `connection.close` (all codec failures are hard errors), or, for a bad
// protocol header, writes its own header and closes without frames (README §1).

/** Reply codes the codec itself can raise (the full table is in generated/constants.ts). */
export const CodecReplyCode = {
  FrameError: 501,
  SyntaxError: 502,
  CommandInvalid: 503,
  UnexpectedFrame: 505,
  NotImplemented: 540,
} as const;
export type CodecReplyCode = (typeof CodecReplyCode)[keyof typeof CodecReplyCode];

const NAMES: Record<number, string> = {
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  505: 'UNEXPECTED_FRAME',
  540: 'NOT_IMPLEMENTED',
};

/** Malformed or unacceptable input. `replyCode` is the AMQP reply code for `connection.close`. */
export class AmqpDecodeError extends Error {
  override name = 'AmqpDecodeError';
  constructor(
    readonly replyCode: CodecReplyCode,
    message: string,
    /** Class and method of the offending method when known (for `connection.close`'s class-id/method-id). */
    readonly classId = 0,
    readonly methodId = 0,
    /** True when the 8-byte protocol header was wrong: answer with our header and close, no frames. */
    readonly badProtocolHeader = false,
  ) {
    super(message);
  }

  /** `FRAME_ERROR` etc. */
  get replyName(): string {
    return NAMES[this.replyCode] ?? 'INTERNAL_ERROR';
  }

  /** Reply text in RabbitMQ's `CODE_NAME - explanation` form, cut to 255 bytes. */
  get replyText(): string {
    const t = `${this.replyName} - ${this.message}`;
    return Buffer.byteLength(t) <= 255 ? t : Buffer.from(t).subarray(0, 255).toString('utf8').replace(/\uFFFD$/, '');
  }
}

/** A value the encoder cannot put on the wire (shortstr over 255 bytes, uint64 beyond int64, ...). */
export class AmqpEncodeError extends Error {
  override name = 'AmqpEncodeError';
}
