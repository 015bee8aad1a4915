// In-memory FileSystem for tests, with fault injection (design.md §2):
// - durability model: each file keeps the bytes as of its last sync(); a file created since the last
//   syncDir() of its directory is not durably linked. crash() returns the state after a power loss
//   (unsynced bytes lost, optionally a torn tail of them kept or garbled); processCrash() keeps all
//   written bytes (SIGKILL: the page cache survives).
// - failNext(op, code, count): the next matching operations throw NodeJS-style errors (EIO, ENOSPC).
// - capacityBytes: appends beyond it write a partial prefix and throw ENOSPC, like a short write.
// - holdSyncs(pathPart): syncs started while held do not complete (nor make anything durable) until
//   released, as a slow fdatasync would; what they cover is what was written when they began.
// Renames and unlinks take effect durably at once (a simplification noted here on purpose).
import type { FileHandle, FileLock, FileSystem, OpenMode } from './file-system.js';

type Op = 'open' | 'append' | 'read' | 'writeAt' | 'sync' | 'truncate' | 'writeFileAtomic' | 'rename' | 'unlink' | 'syncDir';

interface MemFile {
  data: Buffer;
  size: number;
  durable: Buffer;
  linked: boolean;
}

function fsError(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) || '/' : '.');
const norm = (p: string) => p.replace(/\/+/g, '/').replace(/\/$/, '') || '/';

class MemHandle implements FileHandle {
  /** Like a closed descriptor: every later operation fails with EBADF (close ordering bugs show in tests). */
  private closed = false;

  constructor(
    private readonly fs: MemoryFileSystem,
    private readonly path: string,
    private readonly file: MemFile,
    private readonly writable: boolean,
  ) {}

  get size(): number {
    return this.file.size;
  }

  async append(buffers: readonly Buffer[]): Promise<void> {
    this.checkOpen();
    this.fs.maybeFail('append', this.path);
    if (!this.writable) throw fsError('EBADF', this.path);
    let total = 0;
    for (const b of buffers) total += b.length;
    const room = this.fs.capacityBytes - this.fs.usedBytes();
    const n = Math.max(0, Math.min(total, room));
    const joined = Buffer.concat(buffers as Buffer[], total).subarray(0, n);
    this.writeBytes(joined, this.file.size);
    if (n < total) throw fsError('ENOSPC', `no space left writing ${this.path}`);
  }

  private writeBytes(data: Buffer, position: number): void {
    const end = position + data.length;
    if (end > this.file.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.file.data.length * 2, 256));
      this.file.data.copy(grown, 0, 0, this.file.size);
      this.file.data = grown;
    }
    data.copy(this.file.data, position);
    if (end > this.file.size) this.file.size = end;
  }

  async read(target: Buffer, targetOffset: number, length: number, position: number): Promise<number> {
    this.checkOpen();
    this.fs.maybeFail('read', this.path);
    const n = Math.max(0, Math.min(length, this.file.size - position));
    this.file.data.copy(target, targetOffset, position, position + n);
    return n;
  }

  async writeAt(data: Buffer, position: number): Promise<void> {
    this.checkOpen();
    this.fs.maybeFail('writeAt', this.path);
    this.writeBytes(data, position);
  }

  async sync(): Promise<void> {
    this.checkOpen();
    this.fs.maybeFail('sync', this.path);
    const covered = Buffer.from(this.file.data.subarray(0, this.file.size));
    const gate = this.fs.syncGate(this.path);
    if (gate) await gate;
    this.file.durable = covered;
  }

  async truncate(length: number): Promise<void> {
    this.checkOpen();
    this.fs.maybeFail('truncate', this.path);
    if (length < this.file.size) this.file.data.fill(0, length, this.file.size);
    else this.writeBytes(Buffer.alloc(length - this.file.size), this.file.size);
    this.file.size = length;
  }

  private checkOpen(): void {
    if (this.closed) throw fsError('EBADF', `file closed: ${this.path}`);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export interface CrashOptions {
  /** 'drop' loses every unsynced byte; 'torn' keeps a random prefix of them; 'garbage' keeps a prefix with random bytes. */
  tail?: 'drop' | 'torn' | 'garbage';
  random?: () => number;
}

export class MemoryFileSystem implements FileSystem {
  private files = new Map<string, MemFile>();
  private dirs = new Set<string>(['/', '.']);
  private failures: Array<{ op: Op; code: string; count: number; path?: string }> = [];
  /** Paths locked by tryLock (a crash() or processCrash() copy starts with none: the process is gone). */
  private readonly locks = new Set<string>();
  capacityBytes = Number.MAX_SAFE_INTEGER;
  private syncHolds: Array<{ path: string | undefined; released: Promise<void> }> = [];

  usedBytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.size;
    return n;
  }

  /** The next `count` operations of kind `op` (optionally on paths containing `pathPart`) fail with `code`. */
  failNext(op: Op, code: 'EIO' | 'ENOSPC', count = 1, pathPart?: string): void {
    this.failures.push({ op, code, count, path: pathPart });
  }

  /**
   * Syncs of files whose path contains `pathPart` (every file when omitted) that start from now on wait
   * until the returned function is called; they then make durable what was written when they began.
   */
  holdSyncs(pathPart?: string): () => void {
    let release!: () => void;
    const hold = { path: pathPart, released: new Promise<void>((r) => (release = r)) };
    this.syncHolds.push(hold);
    return () => {
      this.syncHolds = this.syncHolds.filter((h) => h !== hold);
      release();
    };
  }

  /** A held sync's gate for `path`, if any. */
  syncGate(path: string): Promise<void> | undefined {
    const h = this.syncHolds.find((x) => x.path === undefined || path.includes(x.path));
    return h?.released;
  }

  clearFailures(): void {
    this.failures = [];
  }

  maybeFail(op: Op, path: string): void {
    const f = this.failures.find((x) => x.op === op && x.count > 0 && (x.path === undefined || path.includes(x.path)));
    if (!f) return;
    f.count--;
    throw fsError(f.code, `injected on ${op} ${path}`);
  }

  /** The state after a power loss. */
  crash(opts: CrashOptions = {}): MemoryFileSystem {
    const rnd = opts.random ?? Math.random;
    const out = new MemoryFileSystem();
    out.dirs = new Set(this.dirs);
    for (const [p, f] of this.files) {
      if (!f.linked) continue;
      let data = Buffer.from(f.durable);
      const current = f.data.subarray(0, f.size);
      if (opts.tail && opts.tail !== 'drop' && f.size > data.length && current.subarray(0, data.length).equals(data)) {
        const keep = Math.floor(rnd() * (f.size - data.length + 1));
        const extra = Buffer.from(current.subarray(data.length, data.length + keep));
        if (opts.tail === 'garbage') for (let i = 0; i < extra.length; i++) if (rnd() < 0.3) extra[i] = Math.floor(rnd() * 256);
        data = Buffer.concat([data, extra]);
      }
      out.files.set(p, { data: Buffer.from(data), size: data.length, durable: Buffer.from(data), linked: true });
    }
    return out;
  }

  /** The state after the process is killed: everything written survives. */
  processCrash(): MemoryFileSystem {
    const out = new MemoryFileSystem();
    out.dirs = new Set(this.dirs);
    for (const [p, f] of this.files) {
      const data = Buffer.from(f.data.subarray(0, f.size));
      out.files.set(p, { data, size: data.length, durable: Buffer.from(f.durable), linked: f.linked });
    }
    return out;
  }

  /** Flips bytes of a stored file (tests of corruption handling). */
  corrupt(path: string, position: number, length = 1): void {
    const f = this.files.get(norm(path));
    if (!f) throw fsError('ENOENT', path);
    for (let i = position; i < Math.min(position + length, f.size); i++) f.data[i] = f.data[i]! ^ 0xff;
    f.durable = Buffer.from(f.data.subarray(0, f.size));
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    path = norm(path);
    this.maybeFail('open', path);
    let f = this.files.get(path);
    if (!f) {
      if (mode === 'r') throw fsError('ENOENT', `no such file ${path}`);
      if (!this.dirs.has(parentOf(path))) throw fsError('ENOENT', `no such directory ${parentOf(path)}`);
      f = { data: Buffer.alloc(0), size: 0, durable: Buffer.alloc(0), linked: false };
      this.files.set(path, f);
    }
    return new MemHandle(this, path, f, mode === 'rw');
  }

  async readFile(path: string): Promise<Buffer> {
    const f = this.files.get(norm(path));
    if (!f) throw fsError('ENOENT', `no such file ${path}`);
    return Buffer.from(f.data.subarray(0, f.size));
  }

  async writeFileAtomic(path: string, data: Buffer): Promise<void> {
    path = norm(path);
    this.maybeFail('writeFileAtomic', path);
    if (!this.dirs.has(parentOf(path))) throw fsError('ENOENT', `no such directory ${parentOf(path)}`);
    this.files.set(path, { data: Buffer.from(data), size: data.length, durable: Buffer.from(data), linked: true });
  }

  async rename(from: string, to: string): Promise<void> {
    this.maybeFail('rename', from);
    from = norm(from);
    to = norm(to);
    const f = this.files.get(from);
    if (!f) {
      if (!this.dirs.has(from)) throw fsError('ENOENT', from);
      if (!this.dirs.has(parentOf(to))) throw fsError('ENOENT', `no such directory ${parentOf(to)}`);
      // A directory moves with everything under it.
      const moved = (p: string) => to + p.slice(from.length);
      for (const [p, file] of [...this.files]) {
        if (!p.startsWith(from + '/')) continue;
        this.files.delete(p);
        this.files.set(moved(p), file);
      }
      for (const d of [...this.dirs]) {
        if (d !== from && !d.startsWith(from + '/')) continue;
        this.dirs.delete(d);
        this.dirs.add(moved(d));
      }
      return;
    }
    this.files.delete(from);
    this.files.set(to, f);
  }

  async unlink(path: string): Promise<void> {
    this.maybeFail('unlink', path);
    if (!this.files.delete(norm(path))) throw fsError('ENOENT', path);
  }

  async list(dir: string): Promise<string[]> {
    dir = norm(dir);
    const prefix = dir === '/' ? '/' : dir + '/';
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (p.startsWith(prefix) && p.length > prefix.length) names.add(p.slice(prefix.length).split('/')[0]!);
    }
    return [...names].sort();
  }

  async mkdir(dir: string): Promise<void> {
    let d = norm(dir);
    while (d !== '/' && d !== '.' && d !== '') {
      this.dirs.add(d);
      d = parentOf(d);
    }
  }

  async rmdir(dir: string): Promise<void> {
    dir = norm(dir);
    for (const p of [...this.files.keys()]) if (p === dir || p.startsWith(dir + '/')) this.files.delete(p);
    for (const p of [...this.dirs]) if (p === dir || p.startsWith(dir + '/')) this.dirs.delete(p);
  }

  async exists(path: string): Promise<boolean> {
    path = norm(path);
    return this.files.has(path) || this.dirs.has(path);
  }

  async size(path: string): Promise<number | undefined> {
    return this.files.get(norm(path))?.size;
  }

  async tryLock(path: string, note: string): Promise<FileLock | undefined> {
    path = norm(path);
    if (this.locks.has(path)) return undefined;
    this.locks.add(path);
    try {
      const h = await this.open(path, 'rw');
      await h.truncate(0);
      await h.writeAt(Buffer.from(note), 0);
    } catch (err) {
      this.locks.delete(path);
      throw err;
    }
    return { release: async () => void this.locks.delete(path) };
  }

  async syncDir(dir: string): Promise<void> {
    dir = norm(dir);
    this.maybeFail('syncDir', dir);
    for (const [p, f] of this.files) if (parentOf(p) === dir) f.linked = true;
  }
}
