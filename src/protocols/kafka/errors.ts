// Core outcomes → Kafka error codes. The only place that knows Kafka's numbers.
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { GroupError } from '../../core/groups/group-coordinator.js';

export const KafkaError = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  REQUEST_TIMED_OUT: 7,
  COORDINATOR_NOT_AVAILABLE: 15,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  KAFKA_STORAGE_ERROR: 56,
  SASL_AUTHENTICATION_FAILED: 58,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  MEMBER_ID_REQUIRED: 79,
  INVALID_RECORD: 87,
  FENCED_INSTANCE_ID: 82,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  OFFSET_METADATA_TOO_LARGE: 12,
  UNKNOWN_SERVER_ERROR: -1,
} as const;

export function kafkaErrorOf(err: unknown): number {
  if (err instanceof BrokerError) {
    switch (err.code) {
      case ErrorCode.NotFound:
        return KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
      case ErrorCode.AlreadyExists:
        return KafkaError.TOPIC_ALREADY_EXISTS;
      case ErrorCode.OffsetOutOfRange:
        return KafkaError.OFFSET_OUT_OF_RANGE;
      case ErrorCode.CorruptData:
        return KafkaError.CORRUPT_MESSAGE;
      case ErrorCode.LimitExceeded:
        return KafkaError.RECORD_LIST_TOO_LARGE;
      case ErrorCode.InvalidArgument:
        return KafkaError.INVALID_REQUEST;
      case ErrorCode.OutOfOrderSequence:
        return KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER;
      case ErrorCode.InvalidProducerEpoch:
        return KafkaError.INVALID_PRODUCER_EPOCH;
      case ErrorCode.InvalidRecord:
        return KafkaError.INVALID_RECORD;
      default:
        return KafkaError.UNKNOWN_SERVER_ERROR;
    }
  }
  if ((err as Error)?.name === 'StorageError') return KafkaError.KAFKA_STORAGE_ERROR;
  return KafkaError.UNKNOWN_SERVER_ERROR;
}

export function kafkaGroupError(e: GroupError): number {
  switch (e) {
    case GroupError.None:
      return KafkaError.NONE;
    case GroupError.UnknownMemberId:
      return KafkaError.UNKNOWN_MEMBER_ID;
    case GroupError.IllegalGeneration:
      return KafkaError.ILLEGAL_GENERATION;
    case GroupError.RebalanceInProgress:
      return KafkaError.REBALANCE_IN_PROGRESS;
    case GroupError.MemberIdRequired:
      return KafkaError.MEMBER_ID_REQUIRED;
    case GroupError.FencedInstanceId:
      return KafkaError.FENCED_INSTANCE_ID;
    case GroupError.InvalidCommitOffsetSize:
      return KafkaError.INVALID_COMMIT_OFFSET_SIZE;
    case GroupError.OffsetMetadataTooLarge:
      return KafkaError.OFFSET_METADATA_TOO_LARGE;
    case GroupError.InconsistentGroupProtocol:
      return KafkaError.INCONSISTENT_GROUP_PROTOCOL;
    case GroupError.InvalidSessionTimeout:
      return KafkaError.INVALID_SESSION_TIMEOUT;
    case GroupError.NonEmptyGroup:
      return KafkaError.NON_EMPTY_GROUP;
    case GroupError.GroupIdNotFound:
      return KafkaError.GROUP_ID_NOT_FOUND;
    case GroupError.InvalidGroupId:
      return KafkaError.INVALID_GROUP_ID;
    case GroupError.CoordinatorNotAvailable:
      return KafkaError.COORDINATOR_NOT_AVAILABLE;
  }
}
