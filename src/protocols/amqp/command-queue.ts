// The commands of one AMQP connection waiting for its pump (connection.ts): methods and complete publishes,
// in arrival order. Bounded: the connection stops reading while it holds AmqpSettings.queuedCommandsMax
// commands, and the bodies it holds count towards the connection's publish bytes
// (AmqpSettings.unsettledPublishBytesMax), so a client pipelining faster than its commands are handled is
// paused instead of growing the broker's memory.
import type { AmqpMethod } from './codec/generated/methods.js';
import type { AmqpChannel, PublishCommand } from './channel.js';

/** A command for the pump: a method, or a basic.publish with its content, on a channel. */
export interface Command {
  channel: AmqpChannel;
  method: AmqpMethod | undefined;
  publish: PublishCommand | undefined;
}

export class CommandQueue {
  private items: Array<Command | undefined> = [];
  private head = 0;
  /** Body bytes of the queued publishes. */
  bytes = 0;
  /** The most commands held at once (tests, diagnostics). */
  peak = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(c: Command): void {
    this.items.push(c);
    if (c.publish !== undefined) this.bytes += c.publish.body.length;
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
    if (c.publish !== undefined) this.bytes -= c.publish.body.length;
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
