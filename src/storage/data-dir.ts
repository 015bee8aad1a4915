// The data dir: its format version and where each kind of data lives inside it.
import { StorageError } from '../lib/errors.js';
import { joinPath, type FileSystem } from './fs/file-system.js';

export const DATA_DIR_FORMAT = 1;
export const FORMAT_FILE = 'junction.format';

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
  const entries = await fs.list(root);
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

export const metaDir = (root: string): string => joinPath(root, 'meta');
export const vhostDir = (root: string, vhost: string): string => joinPath(root, 'vhosts', encodeName(vhost));
export const streamDir = (root: string, vhost: string, stream: string): string => joinPath(vhostDir(root, vhost), 'streams', encodeName(stream));
export const streamPartitionDir = (root: string, vhost: string, stream: string, partition: number): string => joinPath(streamDir(root, vhost, stream), String(partition));
export const queueDir = (root: string, vhost: string, queue: string): string => joinPath(vhostDir(root, vhost), 'queues', encodeName(queue));
