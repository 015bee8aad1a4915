// The single catalogue of domain outcomes (design.md §8). Protocols map these codes to wire errors in
// their own errors.ts; nothing else knows wire codes.

export const ErrorCode = {
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  PreconditionFailed: 'precondition_failed',
  AccessRefused: 'access_refused',
  ResourceLocked: 'resource_locked',
  InvalidArgument: 'invalid_argument',
  LimitExceeded: 'limit_exceeded',
  NotAllowed: 'not_allowed',
  OffsetOutOfRange: 'offset_out_of_range',
  CorruptData: 'corrupt_data',
  UnsupportedVersion: 'unsupported_version',
  Overflow: 'overflow', // a queue refused a publish (x-overflow=reject-publish)
  OutOfOrderSequence: 'out_of_order_sequence', // an idempotent producer skipped sequence numbers
  InvalidProducerEpoch: 'invalid_producer_epoch', // an idempotent producer was fenced by a newer epoch
  InvalidRecord: 'invalid_record', // a record breaks a broker rule (a reserved header name); detail.recordErrors
  Closed: 'closed',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A domain outcome: expected, reported to the client, never a crash. */
export class BrokerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

/** Environment faults surfaced by the storage layer (disk full, I/O error). Typed so every path can handle them. */
export class StorageError extends Error {
  constructor(
    readonly kind: 'ENOSPC' | 'EIO' | 'CORRUPT' | 'CLOSED' | 'FORMAT' | 'LOCKED' | 'OTHER',
    message: string,
    readonly file?: string,
    readonly position?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

export function toStorageError(err: unknown, file?: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const kind = code === 'ENOSPC' || code === 'EDQUOT' ? 'ENOSPC' : code === 'EIO' ? 'EIO' : 'OTHER';
  return new StorageError(kind, `${code ?? 'error'}: ${(err as Error)?.message ?? String(err)}`, file, undefined, { cause: err });
}
