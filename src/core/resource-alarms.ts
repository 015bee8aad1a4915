// Resource alarms in force (RabbitMQ's disk and memory alarms), protocol-neutral. The server's resource
// monitor raises and clears them; every protocol holds its publishers while one is on (AMQP:
// connection.blocked and the socket no longer read; Kafka: Produce held, with throttle_time_ms), and
// /api/health names them.
export type AlarmResource = 'disk' | 'memory';

export class ResourceAlarms {
  private readonly on = new Set<AlarmResource>();
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(active: readonly AlarmResource[]) => void>();

  /** The alarms in force, sorted ([] when none). */
  get active(): AlarmResource[] {
    return [...this.on].sort();
  }

  /** True while any alarm is on. */
  get any(): boolean {
    return this.on.size > 0;
  }

  set(resource: AlarmResource, on: boolean): void {
    if (on === this.on.has(resource)) return;
    if (on) this.on.add(resource);
    else this.on.delete(resource);
    if (this.on.size === 0) {
      const ws = [...this.waiters];
      this.waiters.clear();
      for (const w of ws) w();
    }
    const active = this.active;
    for (const l of this.listeners) l(active);
  }

  /** Called with the alarms in force after each change; returns the unsubscribe function. */
  onChange(listener: (active: readonly AlarmResource[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves true once no alarm is on (at once when none is), or false when `timeoutMs` passes first.
   * Waiters are released in the order they began waiting.
   */
  whenClear(timeoutMs: number): Promise<boolean> {
    if (this.on.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(false);
      }, Math.max(0, timeoutMs));
      const waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.add(waiter);
    });
  }
}
