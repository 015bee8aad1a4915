// Resource alarms hold Kafka producers (RabbitMQ holds AMQP publishers the same way): while a disk or memory
// alarm is on, a Produce is neither appended nor answered, as Kafka's quotas delay a response. It waits
// until the alarm clears or its own timeout_ms passes, whichever comes first:
// - cleared: it is appended and answered; throttle_time_ms is the time held for v3-v5 (before KIP-219
//   it reports a delay the broker applied) and 0 for v6+ (there it asks the client to wait that much more,
//   which the broker already did);
// - still on: every partition is answered REQUEST_TIMED_OUT (retriable; nothing was written) with
//   throttle_time_ms = the time held, so the client backs off before it retries.
import type { ProduceRequest, ProduceResponse } from '../codec/generated/index.js';
import { KafkaError } from '../errors.js';
import type { HandlerContext } from './context.js';

/** Produce versions whose throttle_time_ms asks the client to back off (KIP-219) rather than reports a delay. */
const CLIENT_THROTTLE_FROM_VERSION = 6;

export interface AlarmHold {
  throttleTimeMs: number;
  /** The alarm outlasted the request's timeout: answer REQUEST_TIMED_OUT, write nothing. */
  timedOut: boolean;
}

/** Call only while an alarm is on (`ctx.settings.alarms?.any`): the fast path does not await. */
export async function holdForAlarm(ctx: HandlerContext, req: ProduceRequest, version: number): Promise<AlarmHold> {
  const started = Date.now();
  const cleared = await ctx.settings.alarms!.whenClear(req.timeoutMs);
  const heldMs = Math.min(Date.now() - started, 0x7fffffff);
  if (!cleared) return { throttleTimeMs: heldMs, timedOut: true };
  return { throttleTimeMs: version < CLIENT_THROTTLE_FROM_VERSION ? heldMs : 0, timedOut: false };
}

/** The answer to a Produce whose alarm outlasted its timeout. */
export function alarmTimeoutResponse(ctx: HandlerContext, req: ProduceRequest, res: ProduceResponse): ProduceResponse {
  const errorMessage = `resource alarm in effect (${ctx.settings.alarms!.active.join(', ')}): producers are held until it clears`;
  for (const t of req.topicData) {
    const partitionResponses = t.partitionData.map((p) => ({ index: p.index, errorCode: KafkaError.REQUEST_TIMED_OUT, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage, currentLeader: { leaderId: -1, leaderEpoch: -1 } }));
    res.responses.push({ name: t.name, partitionResponses });
  }
  return res;
}
