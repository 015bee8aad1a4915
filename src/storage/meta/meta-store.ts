// Definitions store (design.md §2): vhosts, users, permissions, exchanges, bindings, queues, streams and
// their arguments, consumer group definitions. Records are protocol-neutral plain data (JSON-serialisable),
// never wire frames. The embedded implementation is LocalMetaStore (journal + snapshot in the data dir);
// a clustered store implements the same interface later.

export type MetaKind = 'vhost' | 'user' | 'permission' | 'exchange' | 'binding' | 'queue' | 'stream' | 'group' | 'setting';

export type MetaValue = null | boolean | number | string | MetaValue[] | { [key: string]: MetaValue };

export interface MetaRecord {
  kind: MetaKind;
  /** Unique within its kind, e.g. `${vhost}\u0000${name}`. */
  key: string;
  value: { [key: string]: MetaValue };
}

export type MetaOp = { op: 'put'; record: MetaRecord } | { op: 'delete'; kind: MetaKind; key: string };

export interface MetaStore {
  /** Every record, in the order they were first put. Call once after open. */
  all(): MetaRecord[];
  get(kind: MetaKind, key: string): MetaRecord | undefined;
  list(kind: MetaKind): MetaRecord[];
  /** Applies the ops atomically and durably (fsync'd) before resolving. */
  apply(ops: readonly MetaOp[]): Promise<void>;
  put(record: MetaRecord): Promise<void>;
  delete(kind: MetaKind, key: string): Promise<void>;
  /**
   * True when open() repaired the journal by truncating a torn tail: changes made just before a crash may
   * be missing, so data that no record names must not be deleted on the store's word.
   */
  readonly repairedTail: boolean;
  close(): Promise<void>;
}
