// InitProducerId (key 22), versions 0-4: ids for idempotent producers (transactions are not supported).
import type { InitProducerIdRequest, InitProducerIdResponse } from '../codec/generated/index.js';
import { defaultInitProducerIdResponse } from '../codec/generated/index.js';
import { KafkaError } from '../errors.js';
import type { HandlerContext } from './context.js';

export async function handleInitProducerId(ctx: HandlerContext, req: InitProducerIdRequest): Promise<InitProducerIdResponse> {
  const res = defaultInitProducerIdResponse();
  if (req.transactionalId !== null) {
    res.errorCode = KafkaError.COORDINATOR_NOT_AVAILABLE;
    return res;
  }
  if (req.producerId >= 0n && req.producerEpoch >= 0) {
    // An existing producer bumping its epoch after an error (v3+).
    res.producerId = req.producerId;
    res.producerEpoch = req.producerEpoch + 1;
    return res;
  }
  res.producerId = await ctx.broker.allocateProducerId();
  res.producerEpoch = 0;
  return res;
}
