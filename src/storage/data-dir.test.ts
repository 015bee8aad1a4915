import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from './fs/node-fs.js';
import { decodeName, encodeName, lockDataDir, openDataDir, queueDir, streamPartitionDir } from './data-dir.js';
import { StorageError } from '../lib/errors.js';

const fs = new NodeFileSystem();

test('a missing or empty dir is initialised; reopening reads it', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'dd-')), 'data');
  const a = await openDataDir(fs, root);
  assert.equal(a.created, true);
  const b = await openDataDir(fs, root);
  assert.equal(b.created, false);
  assert.equal(b.format, 1);
});

test('another format version, or a foreign non-empty dir, is refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dd-'));
  writeFileSync(join(root, 'junction.format'), '{"format":2}');
  await assert.rejects(openDataDir(fs, root), (e: unknown) => e instanceof StorageError && e.kind === 'FORMAT' && /format version 2/.test(e.message));
  const other = mkdtempSync(join(tmpdir(), 'dd-'));
  writeFileSync(join(other, 'something'), 'x');
  await assert.rejects(openDataDir(fs, other), /not empty/);
});

test('names are encoded into safe path components', () => {
  for (const n of ['/', 'a/b', '..', '.hidden', '%', 'ümlaut q', '', 'plain-name_1.2']) {
    const e = encodeName(n);
    assert.match(e, /^[A-Za-z0-9._%-]+$/);
    assert.ok(!e.startsWith('.'));
    assert.equal(decodeName(e), n);
  }
  assert.equal(encodeName('/'), '%2F');
  assert.equal(queueDir('/d', '/', 'q1'), '/d/vhosts/%2F/queues/q1');
  assert.equal(streamPartitionDir('/d', '/', 't', 3), '/d/vhosts/%2F/streams/t/3');
  assert.equal(queueDir('/d', '/', 'q1', 'abc-1'), '/d/vhosts/%2F/queues/q1~abc-1');
  assert.equal(streamPartitionDir('/d', '/', 't~', 0, 'abc-1'), '/d/vhosts/%2F/streams/t%7E~abc-1/0');
  assert.throws(() => queueDir('/d', '/', 'q', '../x'), (e: unknown) => e instanceof StorageError && e.kind === 'FORMAT');
});

test('the lock: a second holder is refused with the first one pid; released, it can be taken again', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'dd-')), 'data');
  const lock = await lockDataDir(fs, root);
  await assert.rejects(lockDataDir(fs, root), (e: unknown) => e instanceof StorageError && e.kind === 'LOCKED' && e.message === `data dir ${root} is in use by process ${process.pid}`);
  assert.equal((await openDataDir(fs, root)).created, true, 'the lock file does not make the dir foreign');
  await lock.release();
  await (await lockDataDir(fs, root)).release();
});
