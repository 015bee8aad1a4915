// Public surface of the AMQP 0-9-1 codec (see README.md).
export { AmqpDecodeError, AmqpEncodeError, CodecReplyCode } from './decode-error.js';
export { AmqpCodecLimits } from './limits.js';
export * from './generated/constants.js';
export * from './generated/methods.js';
export { BASIC_CLASS_ID, BasicPropertyFlag, type BasicProperties } from './generated/basic-properties.js';
export { decodeContentHeader, encodeContentHeaderFrame, encodeBasicProperties, decodeBasicProperties, type ContentHeader } from './content-header.js';
export {
  AmqpFrameParser,
  encodeBodyFrames,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD_BYTES,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
  PROTOCOL_HEADER_0_9,
  type AmqpFrame,
  type AmqpFrameParserOptions,
  type AmqpParsed,
  type AmqpProtocolHeader,
} from './frame.js';
export { decodeFieldTable, decodeFieldTableEntries, encodeFieldTable, readFieldTable, writeFieldTable } from './field-table.js';
export { AmqpReader } from './reader.js';
export { AmqpWriter } from './writer.js';
