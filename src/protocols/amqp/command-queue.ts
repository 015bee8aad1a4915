// The commands of one AMQP connection waiting for its pump (connection.ts): methods and complete publishes,
// in arrival order. Bounded: the connection stops reading while it holds AmqpSettings.queuedCommandsMax
// commands, and their bytes (publish bodies, method frames: a method may carry a large field table) count
// towards the connection's publish bytes (AmqpSettings.unsettledPublishBytesMax), so a client pipelining
// faster than its commands are handled is paused instead of growing the broker's memory.
import type { AmqpMethod } from './codec/generated/methods.js';
import type { AmqpChannel, PublishCommand } from './channel.js';

/** A command for the pump: a method, or a basic.publish with its content, on a channel. */
export interface Command {
  channel: AmqpChannel;
  method: AmqpMethod | undefined;
  publish: PublishCommand | undefined;
  /** Bytes it holds: the body of a publish, the frame payload of a method. */
  bytes: number;
}

export class CommandQueue {
  private items: Array<Command | undefined> = [];
  private head = 0;
  /** Bytes of the queued commands (publish bodies, method frames). */
  bytes = 0;
  /** The most commands, and the most bytes, held at once (tests, diagnostics). */
  peak = 0;
  peakBytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(c: Command): void {
    this.items.push(c);
    this.bytes += c.bytes;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    const n = this.items.length - this.head;
    if (n > this.peak) this.peak = n;
  }

  shift(): Command | undefined {
    if (this.head === this.items.length) return undefined;
    const c = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.bytes -= c.bytes;
    return c;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/** basic.ack, basic.nack and basic.reject: they settle deliveries and wait for no earlier publish. */
export function isSettlement(m: AmqpMethod): boolean {
  return m.name === 'basic.ack' || m.name === 'basic.nack' || m.name === 'basic.reject';
}
