// Publishes held by a transactional channel until tx.commit (README §11). Bounded per channel
// (AmqpSettings.txPublishBytesMax): the bytes wait in memory and the connection cannot be paused for them
// (the commit that releases them must still be read), so a transaction that grows past the limit is refused
// with 406 PRECONDITION_FAILED and its channel closed; nothing of it is published.
import type { PublishCommand } from './channel.js';
import { preconditionFailed } from './errors.js';

export class TxPublishes {
  private items: PublishCommand[] = [];
  /** Body bytes held. */
  bytes = 0;

  add(p: PublishCommand, bytesMax: number): void {
    if (this.bytes + p.body.length > bytesMax) throw preconditionFailed(`transaction publishes exceed ${bytesMax} bytes (txPublishBytesMax); commit more often`);
    this.items.push(p);
    this.bytes += p.body.length;
  }

  /** The held publishes, in order; none are held afterwards. */
  take(): PublishCommand[] {
    const out = this.items;
    this.clear();
    return out;
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
  }
}
