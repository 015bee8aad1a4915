// The data dir: its lock, its format version and where each kind of data lives inside it.
import { randomBytes } from 'node:crypto';
import { StorageError } from '../lib/errors.js';
import { joinPath, type FileLock, type FileSystem } from './fs/file-system.js';

export const DATA_DIR_FORMAT = 1;
export const FORMAT_FILE = 'junction.format';
/** Locked (an OS lock) by the one process that uses the data dir; holds that process's pid. */
export const LOCK_FILE = 'junction.lock';

/**
 * Takes the data dir's exclusive OS lock, before anything in it is read or changed (the directory is created
 * if missing). Refuses with StorageError('LOCKED') "data dir D is in use by process N" while another process,
 * or another broker of this one, holds it. The kernel releases the lock when its holder dies, SIGKILL included.
 */
export async function lockDataDir(fs: FileSystem, root: string): Promise<FileLock> {
  await fs.mkdir(root);
  const path = joinPath(root, LOCK_FILE);
  const lock = await fs.tryLock(path, `${process.pid}\n`);
  if (lock) return lock;
  let holder = '';
  try {
    holder = (await fs.readFile(path)).toString('utf8').trim();
  } catch {
    // unreadable: the message names no process
  }
  const who = /^\d+$/.test(holder) ? `process ${holder}` : 'another process';
  throw new StorageError('LOCKED', `data dir ${root} is in use by ${who}`, path);
}

export interface DataDirInfo {
  root: string;
  format: number;
  createdAt: string;
  /** true when this call initialised the directory. */
  created: boolean;
}

/**
 * Opens (initialising if empty or missing) a data dir. Refuses a dir of another format version, and a
 * non-empty dir without a format file (it is not ours), with StorageError('FORMAT').
 */
export async function openDataDir(fs: FileSystem, root: string): Promise<DataDirInfo> {
  const formatPath = joinPath(root, FORMAT_FILE);
  const entries = (await fs.list(root)).filter((e) => e !== LOCK_FILE);
  if (!entries.includes(FORMAT_FILE)) {
    if (entries.length > 0) {
      throw new StorageError('FORMAT', `data dir ${root} is not empty and has no ${FORMAT_FILE}: refusing to use it (is it another program's directory?)`, root);
    }
    await fs.mkdir(root);
    const createdAt = new Date().toISOString();
    await fs.writeFileAtomic(formatPath, Buffer.from(JSON.stringify({ format: DATA_DIR_FORMAT, createdAt }) + '\n'));
    return { root, format: DATA_DIR_FORMAT, createdAt, created: true };
  }
  let parsed: { format?: unknown; createdAt?: unknown };
  try {
    parsed = JSON.parse((await fs.readFile(formatPath)).toString('utf8')) as typeof parsed;
  } catch (err) {
    throw new StorageError('FORMAT', `data dir ${root}: ${FORMAT_FILE} is unreadable (${(err as Error).message})`, formatPath);
  }
  if (parsed.format !== DATA_DIR_FORMAT) {
    throw new StorageError('FORMAT', `data dir ${root} has format version ${String(parsed.format)}; this Junction reads version ${DATA_DIR_FORMAT}`, formatPath);
  }
  return { root, format: DATA_DIR_FORMAT, createdAt: String(parsed.createdAt ?? ''), created: false };
}

/** Percent-encodes anything outside [A-Za-z0-9._-] (and '%'), so any name is one safe path component. */
export function encodeName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._-]/.test(c) && !(out.length === 0 && c === '.') ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out.length === 0 ? '%' : out;
}

export function decodeName(encoded: string): string {
  return encoded === '%' ? '' : decodeURIComponent(encoded);
}

/**
 * Each incarnation of a queue or stream name (each create after a delete) has a directory of its own, named
 * `<encoded name>~<incarnation id>` ('~' never occurs in an encoded name). A definition without an
 * incarnation id (written before incarnations existed) uses the bare encoded name.
 */
export function newIncarnationId(): string {
  return `${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

export function isIncarnationId(id: unknown): id is string {
  return typeof id === 'string' && /^[a-z0-9-]{1,40}$/.test(id);
}

function incarnationDirName(name: string, incarnation: string | undefined): string {
  if (incarnation === undefined) return encodeName(name);
  if (!isIncarnationId(incarnation)) throw new StorageError('FORMAT', `invalid incarnation id '${incarnation}' of '${name}'`);
  return `${encodeName(name)}~${incarnation}`;
}

export const metaDir = (root: string): string => joinPath(root, 'meta');
export const vhostDir = (root: string, vhost: string): string => joinPath(root, 'vhosts', encodeName(vhost));
/** Where the streams of a vhost live: one directory per incarnation, one sub-directory per partition. */
export const streamsDir = (root: string, vhost: string): string => joinPath(vhostDir(root, vhost), 'streams');
export const streamDir = (root: string, vhost: string, stream: string, incarnation?: string): string => joinPath(streamsDir(root, vhost), incarnationDirName(stream, incarnation));
export const streamPartitionDir = (root: string, vhost: string, stream: string, partition: number, incarnation?: string): string => joinPath(streamDir(root, vhost, stream, incarnation), String(partition));
/** Where the queues whose definitions are persisted (durable, not exclusive) live. */
export const queuesDir = (root: string, vhost: string): string => joinPath(vhostDir(root, vhost), 'queues');
export const queueDir = (root: string, vhost: string, queue: string, incarnation?: string): string => joinPath(queuesDir(root, vhost), incarnationDirName(queue, incarnation));
/** Where the queues whose definitions are not persisted (non-durable, exclusive) live: emptied at each start. */
export const transientQueuesDir = (root: string, vhost: string): string => joinPath(vhostDir(root, vhost), 'transient');
export const transientQueueDir = (root: string, vhost: string, queue: string, incarnation: string): string => joinPath(transientQueuesDir(root, vhost), incarnationDirName(queue, incarnation));
/** Deleted incarnations on their way out: moved here with one rename, removed in the background (and at start). */
export const trashDir = (root: string): string => joinPath(root, 'trash');

/**
 * Moves `dir` into the trash with one rename, so that it leaves its place at once; returns its new path, or
 * undefined when `dir` does not exist.
 */
export async function moveToTrash(fs: FileSystem, root: string, dir: string): Promise<string | undefined> {
  if (!(await fs.exists(dir))) return undefined;
  await fs.mkdir(trashDir(root));
  const to = joinPath(trashDir(root), newIncarnationId());
  await fs.rename(dir, to);
  return to;
}
