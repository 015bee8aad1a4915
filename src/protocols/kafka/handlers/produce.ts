// Produce (key 0), versions 3-8 accepted (0-8 advertised, see codec/api-table.ts): validates and appends
// record batches as sent; acks=0 gets no response. v0-v2 (message sets v0/v1) are answered with
// UNSUPPORTED_VERSION for every partition, as Kafka 4 does; with acks=0 the connection closes instead.
// While a resource alarm is on, a Produce is held first (produce-alarm.ts).
import type { ProduceRequest, ProduceResponse, ProduceResponse_BatchIndexAndErrorMessage } from '../codec/generated/index.js';
import { defaultProduceResponse } from '../codec/generated/index.js';
import type { BrokerError } from '../../../lib/errors.js';
import { KafkaError, kafkaErrorOf } from '../errors.js';
import { findTopic, type HandlerContext } from './context.js';
import { alarmTimeoutResponse, holdForAlarm } from './produce-alarm.js';

/** The oldest Produce version accepted (RecordBatch v2); older ones are advertised but refused. */
export const PRODUCE_VERSION_ACCEPTED_MIN = 3;

function refuseOldVersion(req: ProduceRequest): ProduceResponse {
  const res = defaultProduceResponse();
  const errorMessage = `Produce versions below ${PRODUCE_VERSION_ACCEPTED_MIN} are not supported`;
  for (const t of req.topicData) {
    const partitionResponses = t.partitionData.map((p) => ({ index: p.index, errorCode: KafkaError.UNSUPPORTED_VERSION, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage, currentLeader: { leaderId: -1, leaderEpoch: -1 } }));
    res.responses.push({ name: t.name, partitionResponses });
  }
  return res;
}

export async function handleProduce(ctx: HandlerContext, req: ProduceRequest, version: number): Promise<ProduceResponse> {
  if (version < PRODUCE_VERSION_ACCEPTED_MIN) return refuseOldVersion(req);
  const res = defaultProduceResponse();
  const hold = ctx.settings.alarms?.any ? await holdForAlarm(ctx, req, version) : undefined;
  if (hold) res.throttleTimeMs = hold.throttleTimeMs;
  if (hold?.timedOut) return alarmTimeoutResponse(ctx, req, res);
  const durable = req.acks !== 0;
  await Promise.all(
    req.topicData.map(async (t) => {
      const stream = findTopic(ctx, t.name);
      const partitionResponses = await Promise.all(
        t.partitionData.map(async (p) => {
          const out = { index: p.index, errorCode: 0, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [] as ProduceResponse_BatchIndexAndErrorMessage[], errorMessage: null as string | null, currentLeader: { leaderId: -1, leaderEpoch: -1 } };
          if (!stream || p.index < 0 || p.index >= stream.partitionCount) {
            out.errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
            return out;
          }
          if (!p.records || p.records.length === 0) {
            out.errorCode = KafkaError.CORRUPT_MESSAGE;
            return out;
          }
          try {
            const r = await stream.appendBatches(p.index, p.records, { durable });
            out.baseOffset = BigInt(r.baseOffset);
            if (r.logAppendTimeMs !== undefined) out.logAppendTimeMs = BigInt(r.logAppendTimeMs);
            out.logStartOffset = BigInt(stream.earliestOffset(p.index));
          } catch (err) {
            out.errorCode = kafkaErrorOf(err);
            out.errorMessage = (err as Error).message;
            // Records refused by a broker rule (a reserved header name): one message per record (v8+).
            const recordErrors = (err as BrokerError).detail?.['recordErrors'] as Array<{ batchIndex: number; message: string }> | undefined;
            if (recordErrors) out.recordErrors = recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }));
          }
          return out;
        }),
      );
      res.responses.push({ name: t.name, partitionResponses });
    }),
  );
  return res;
}
