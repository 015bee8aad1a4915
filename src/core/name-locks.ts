// One queue of definition changes per name (issue 9): declare, delete, re-create, exclusive-owner close and
// auto-delete of one (vhost, name) run one after another, in the order they were asked for, whatever
// protocol or connection asked. Different names never wait for each other.

export class NameLocks {
  /** The last change queued per key; removed once it settles and nothing was queued after it. */
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `change` after every change queued earlier for `key` has settled (succeeded or failed). The turn is
   * taken synchronously: a change asked for before another one runs before it.
   */
  run<T>(key: string, change: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(change) : change();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once no change is running or queued. */
  async settled(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}

export const nameKey = (vhost: string, name: string): string => `${vhost}\u0000${name}`;
