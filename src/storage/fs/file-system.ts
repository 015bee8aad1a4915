// The file-system interface storage does all its I/O through (design.md §2). Two implementations:
// NodeFileSystem (real disk) and MemoryFileSystem (tests; injects faults). Paths are '/'-separated and
// relative to the implementation's root or absolute, as the caller chooses; implementations do not
// interpret them beyond directory structure.

export interface FileHandle {
  /** Current length in bytes, including appended but unsynced bytes. */
  readonly size: number;
  /** Appends the buffers at the end of the file with one positional gather write. */
  append(buffers: readonly Buffer[]): Promise<void>;
  /** Reads up to `length` bytes at `position` into `target` at `targetOffset`; returns bytes read. */
  read(target: Buffer, targetOffset: number, length: number, position: number): Promise<number>;
  /** Writes `data` at `position` (used for index files and headers, not for logs). */
  writeAt(data: Buffer, position: number): Promise<void>;
  /** Makes every byte written so far durable (fdatasync). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** An exclusive lock on a file: held until release(), or until the process ends (the kernel releases it). */
export interface FileLock {
  release(): Promise<void>;
}

export type OpenMode =
  /** read only; the file must exist */
  | 'r'
  /** read and write; created if missing; never truncated on open */
  | 'rw';

export interface FileSystem {
  open(path: string, mode: OpenMode): Promise<FileHandle>;
  /** Whole-file read; throws a NodeJS-style ENOENT error if missing. */
  readFile(path: string): Promise<Buffer>;
  /** Crash-safe replace: write to a temporary name, fsync, rename over `path`, fsync the directory. */
  writeFileAtomic(path: string, data: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Names (not paths) of the entries of a directory; [] if it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Creates the directory and its parents; no error if it exists. */
  mkdir(dir: string): Promise<void>;
  /** Removes a directory tree; no error if missing. */
  rmdir(dir: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Size in bytes, or undefined if missing. */
  size(path: string): Promise<number | undefined>;
  /** Makes a directory's entries (creations, renames, unlinks) durable. */
  syncDir(dir: string): Promise<void>;
  /**
   * Takes an exclusive lock on the file at `path` (created if missing; its directory must exist) without
   * waiting, and replaces its content with `note` (who holds it). Undefined when the lock is held already,
   * by another process or by another tryLock of this one.
   */
  tryLock(path: string, note: string): Promise<FileLock | undefined>;
}

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join('/').replace(/\/+/g, '/');
}
