import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSystemContract } from './file-system.contract.js';
import { MemoryFileSystem } from './memory-fs.js';
import { NodeFileSystem } from './node-fs.js';

fileSystemContract('NodeFileSystem', async () => ({ fs: new NodeFileSystem(), root: mkdtempSync(join(tmpdir(), 'fsc-')) }));
fileSystemContract('MemoryFileSystem', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/root');
  return { fs, root: '/root' };
});

test('MemoryFileSystem: power loss drops unsynced bytes and unlinked new files; SIGKILL keeps them', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const h = await fs.open('/d/f', 'rw');
  await h.append([Buffer.from('synced')]);
  await h.sync();
  await fs.syncDir('/d');
  await h.append([Buffer.from('-lost')]);
  const n = await fs.open('/d/new', 'rw');
  await n.append([Buffer.from('x')]);
  await n.sync();
  const power = fs.crash();
  assert.equal((await power.readFile('/d/f')).toString(), 'synced');
  assert.equal(await power.exists('/d/new'), false, 'a file whose directory was never synced is gone');
  const torn = fs.crash({ tail: 'torn', random: () => 0.5 });
  assert.ok((await torn.readFile('/d/f')).toString().startsWith('synced'));
  const kill = fs.processCrash();
  assert.equal((await kill.readFile('/d/f')).toString(), 'synced-lost');
});

test('MemoryFileSystem: injected EIO and ENOSPC with a short write', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const h = await fs.open('/d/f', 'rw');
  fs.failNext('sync', 'EIO');
  await assert.rejects(h.sync(), (e: NodeJS.ErrnoException) => e.code === 'EIO');
  await h.sync();
  fs.capacityBytes = 4;
  await assert.rejects(h.append([Buffer.from('123456')]), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
  assert.equal(h.size, 4, 'a partial prefix was written');
});
