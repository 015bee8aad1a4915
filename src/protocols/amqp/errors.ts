// Core outcomes → AMQP reply codes (README §6). The only place in the AMQP folder that knows which domain
// error becomes which reply code; soft codes close the channel, hard ones the connection.
import { BrokerError, ErrorCode, StorageError } from '../../lib/errors.js';
import { AmqpDecodeError } from './codec/decode-error.js';
import { ReplyCode, isHardError, replyText } from './codec/generated/constants.js';

/** An AMQP error to send as channel.close (soft) or connection.close (hard). */
export class AmqpError extends Error {
  override name = 'AmqpError';
  constructor(
    readonly code: number,
    message: string,
    public classId = 0,
    public methodId = 0,
  ) {
    super(message);
  }

  get hard(): boolean {
    return isHardError(this.code);
  }

  /** `NOT_FOUND - no queue 'q' in vhost '/'`. */
  get replyText(): string {
    return replyText(this.code, this.message);
  }
}

export const notFound = (text: string): AmqpError => new AmqpError(ReplyCode.NotFound, text);
export const accessRefused = (text: string): AmqpError => new AmqpError(ReplyCode.AccessRefused, text);
export const preconditionFailed = (text: string): AmqpError => new AmqpError(ReplyCode.PreconditionFailed, text);
export const notImplemented = (text: string): AmqpError => new AmqpError(ReplyCode.NotImplemented, text);
export const commandInvalid = (text: string): AmqpError => new AmqpError(ReplyCode.CommandInvalid, text);
export const notAllowed = (text: string): AmqpError => new AmqpError(ReplyCode.NotAllowed, text);
export const channelError = (text: string): AmqpError => new AmqpError(ReplyCode.ChannelError, text);
export const unexpectedFrame = (text: string): AmqpError => new AmqpError(ReplyCode.UnexpectedFrame, text);

/** Maps anything thrown while handling a method to the AMQP error to send. */
export function amqpErrorOf(err: unknown, classId = 0, methodId = 0): AmqpError {
  let e: AmqpError;
  if (err instanceof AmqpError) e = err;
  else if (err instanceof AmqpDecodeError) e = new AmqpError(err.replyCode, err.message);
  else if (err instanceof BrokerError) e = new AmqpError(codeOf(err.code), err.message);
  else if (err instanceof StorageError) e = new AmqpError(ReplyCode.InternalError, `storage: ${err.message}`);
  else e = new AmqpError(ReplyCode.InternalError, (err as Error)?.message ?? String(err));
  if (e.classId === 0 && e.methodId === 0) {
    e.classId = classId;
    e.methodId = methodId;
  }
  return e;
}

function codeOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.NotFound:
      return ReplyCode.NotFound;
    case ErrorCode.AccessRefused:
      return ReplyCode.AccessRefused;
    case ErrorCode.ResourceLocked:
      return ReplyCode.ResourceLocked;
    case ErrorCode.PreconditionFailed:
    case ErrorCode.InvalidArgument:
    case ErrorCode.AlreadyExists:
    case ErrorCode.Overflow:
    case ErrorCode.LimitExceeded:
      return ReplyCode.PreconditionFailed;
    case ErrorCode.NotAllowed:
      return ReplyCode.NotAllowed;
    case ErrorCode.Closed:
      return ReplyCode.ConnectionForced;
    default:
      return ReplyCode.InternalError;
  }
}
