// A basic.consume on a stream (README §12): reads the stream's log from the position x-stream-offset names
// and delivers with at most `prefetch` unacknowledged; acks only return credit, nothing is removed. A Kafka
// topic with several partitions is read partition by partition in turn, each from the same start rule.
import type { FieldValue, Message } from '../../core/message.js';
import type { Stream } from '../../core/streams/stream.js';
import { childLogger } from '../../lib/logger.js';
import { preconditionFailed } from './errors.js';
import { intValue, parseAge, stringValue } from './queue-arguments.js';

const log = childLogger('amqp');

export type StreamStart =
  | { kind: 'first' }
  | { kind: 'last' }
  | { kind: 'next' }
  | { kind: 'offset'; offset: number }
  | { kind: 'timestamp'; ms: number };

/** x-stream-offset: first, last, next, an integer offset, a timestamp (T, seconds) or an interval ('1h'). */
export function parseStreamOffset(v: FieldValue, nowMs = Date.now()): StreamStart {
  if (v.type === 'timestamp') return { kind: 'timestamp', ms: Number(v.value) * 1000 };
  const n = intValue(v);
  if (n !== undefined) {
    if (n < 0) throw preconditionFailed(`invalid arg 'x-stream-offset': ${n}`);
    return { kind: 'offset', offset: n };
  }
  const s = stringValue(v);
  if (s === 'first' || s === 'last' || s === 'next') return { kind: s };
  if (s !== undefined) {
    const age = parseAge(s);
    if (age !== undefined) return { kind: 'timestamp', ms: nowMs - age };
  }
  throw preconditionFailed(`invalid arg 'x-stream-offset': ${s ?? v.type}`);
}

export interface StreamDeliveryTarget {
  readonly writable: boolean;
  deliverFromStream(sub: StreamSubscription, message: Message, offset: number): void;
  /** The stream went away (deleted) or could not be read: the consumer is cancelled by the server. */
  streamEnded(sub: StreamSubscription, reason: string): void;
}

/** Records read per log read. */
const READ_BATCH = 500;
/** A parked read re-checks this often (stop, new partitions). */
const WAIT_MS = 1000;

export class StreamSubscription {
  private credit: number;
  private stopped = false;
  private positions: number[] = [];
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly stream: Stream,
    readonly consumerTag: string,
    prefetch: number,
    private readonly target: StreamDeliveryTarget,
  ) {
    this.credit = prefetch;
  }

  async start(start: StreamStart): Promise<void> {
    for (let p = 0; p < this.stream.partitionCount; p++) this.positions.push(await this.startOffset(p, start));
    void this.run().catch((err: Error) => {
      if (this.stopped) return;
      this.stopped = true;
      log.debug({ stream: this.stream.name, err: err.message }, 'stream consumer ended');
      this.target.streamEnded(this, err.message);
    });
  }

  private async startOffset(p: number, s: StreamStart): Promise<number> {
    const first = this.stream.earliestOffset(p);
    const next = this.stream.latestOffset(p);
    switch (s.kind) {
      case 'first':
        return first;
      case 'next':
        return next;
      case 'last':
        return Math.max(first, next - 1);
      case 'offset':
        return Math.min(Math.max(first, s.offset), next);
      case 'timestamp':
        return (await this.stream.offsetForTime(p, s.ms)) ?? next;
    }
  }

  /** An ack (or nack / reject: requeue means nothing for streams) returned one credit. */
  settled(): void {
    this.credit++;
    this.wake();
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  private park(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let p = 0;
    while (!this.stopped) {
      if (this.credit <= 0 || !this.target.writable) {
        await this.park(WAIT_MS);
        continue;
      }
      while (this.positions.length < this.stream.partitionCount) this.positions.push(this.stream.earliestOffset(this.positions.length));
      let delivered = 0;
      for (let k = 0; k < this.positions.length && this.credit > 0 && !this.stopped; k++) {
        const part = (p + k) % this.positions.length;
        const at = Math.max(this.positions[part]!, this.stream.earliestOffset(part));
        if (at >= this.stream.latestOffset(part)) continue;
        const msgs = await this.stream.readMessages(part, at, Math.min(READ_BATCH, this.credit));
        for (const { offset, message } of msgs) {
          if (offset < at) continue;
          if (this.stopped || this.credit <= 0) break;
          this.credit--;
          delivered++;
          this.positions[part] = offset + 1;
          this.target.deliverFromStream(this, message, offset);
        }
      }
      p++;
      if (delivered === 0 && !this.stopped) {
        const wait = this.stream.waitForData(this.positions.map((offset, partition) => ({ partition, offset })), WAIT_MS);
        await Promise.race([wait, this.park(WAIT_MS)]);
        this.wake();
      }
    }
  }
}

/** Messages a stream holds (all partitions), as queue.declare-ok reports them. */
export function streamCount(st: Stream): number {
  let n = 0;
  for (let p = 0; p < st.partitionCount; p++) n += st.latestOffset(p) - st.earliestOffset(p);
  return n;
}
