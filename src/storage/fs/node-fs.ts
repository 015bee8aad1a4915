// FileSystem over node:fs/promises: the real disk.
import { promises as fsp, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { FileHandle, FileLock, FileSystem, OpenMode } from './file-system.js';

/**
 * The OS lock primitive (the npm package fs-native-extensions, a prebuilt native addon): on Linux an open
 * file description lock (fcntl F_OFD_SETLK), elsewhere flock / LockFileEx. The kernel drops it when the
 * descriptor is closed, which happens when the process dies however it dies (SIGKILL included), and it
 * conflicts with every other descriptor of the file, in this process too. Loaded on first use.
 */
interface NativeLocks {
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
}
let nativeLocks: NativeLocks | undefined;
const loadNativeLocks = (): NativeLocks => (nativeLocks ??= createRequire(import.meta.url)('fs-native-extensions') as NativeLocks);

class NodeFileHandle implements FileHandle {
  constructor(
    private readonly handle: fsp.FileHandle,
    public size: number,
  ) {}

  async append(buffers: readonly Buffer[]): Promise<void> {
    let position = this.size;
    let pending = buffers.slice();
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending, position);
      position += bytesWritten;
      this.size = position;
      // Short write: drop what was written and continue with the rest.
      let left = bytesWritten;
      while (pending.length > 0 && left >= pending[0]!.length) left -= pending.shift()!.length;
      if (left > 0) pending[0] = pending[0]!.subarray(left);
    }
  }

  async read(target: Buffer, targetOffset: number, length: number, position: number): Promise<number> {
    let total = 0;
    while (total < length) {
      const { bytesRead } = await this.handle.read(target, targetOffset + total, length - total, position + total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return total;
  }

  async writeAt(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    if (position + data.length > this.size) this.size = position + data.length;
  }

  sync(): Promise<void> {
    return this.handle.datasync();
  }

  async truncate(length: number): Promise<void> {
    await this.handle.truncate(length);
    this.size = length;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export class NodeFileSystem implements FileSystem {
  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    const flags = mode === 'r' ? constants.O_RDONLY : constants.O_RDWR | constants.O_CREAT;
    const handle = await fsp.open(path, flags, 0o644);
    try {
      const st = await handle.stat();
      return new NodeFileHandle(handle, st.size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  readFile(path: string): Promise<Buffer> {
    return fsp.readFile(path);
  }

  async writeFileAtomic(path: string, data: Buffer): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}`;
    const h = await fsp.open(tmp, 'w', 0o644);
    try {
      await h.writeFile(data);
      await h.datasync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, path);
    await this.syncDir(dirname(path));
  }

  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return fsp.unlink(path);
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await fsp.readdir(dir)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async mkdir(dir: string): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
  }

  rmdir(dir: string): Promise<void> {
    return fsp.rm(dir, { recursive: true, force: true });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await fsp.stat(path);
      return true;
    } catch {
      return false;
    }
  }

  async size(path: string): Promise<number | undefined> {
    try {
      return (await fsp.stat(path)).size;
    } catch {
      return undefined;
    }
  }

  async tryLock(path: string, note: string): Promise<FileLock | undefined> {
    const h = await fsp.open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    let locked = false;
    try {
      locked = loadNativeLocks().tryLock(h.fd);
      if (!locked) return undefined;
      await h.truncate(0);
      await h.write(Buffer.from(note), 0, undefined, 0);
    } catch (err) {
      locked = false;
      throw err;
    } finally {
      if (!locked) await h.close();
    }
    // The handle is referenced by the lock until release(): a collected FileHandle would be closed, and with
    // it the lock.
    let released: Promise<void> | undefined;
    return { release: () => (released ??= h.close()) };
  }

  async syncDir(dir: string): Promise<void> {
    const h = await fsp.open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }
}
