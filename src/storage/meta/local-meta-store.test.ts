import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { NodeFileSystem } from '../fs/node-fs.js';
import { MemoryFileSystem } from '../fs/memory-fs.js';
import { StorageError } from '../../lib/errors.js';
import { LocalMetaStore } from './local-meta-store.js';
import type { MetaRecord } from './meta-store.js';

const fs = new NodeFileSystem();
const dir = () => mkdtempSync(join(tmpdir(), 'meta-'));
const rec = (key: string, n: number): MetaRecord => ({ kind: 'queue', key, value: { n, name: key } });

test('put, delete, apply, list survive reopen in first-put order', async () => {
  const d = dir();
  let m = await LocalMetaStore.open(fs, d);
  await m.put(rec('a', 1));
  await m.put(rec('b', 2));
  await m.apply([{ op: 'put', record: rec('a', 3) }, { op: 'put', record: { kind: 'exchange', key: 'x', value: {} } }, { op: 'delete', kind: 'queue', key: 'b' }]);
  await m.close();
  m = await LocalMetaStore.open(fs, d);
  assert.deepEqual(m.list('queue'), [rec('a', 3)]);
  assert.equal(m.all().length, 2);
  assert.equal(m.get('exchange', 'x')?.key, 'x');
  await m.close();
  await assert.rejects(m.put(rec('c', 1)), StorageError);
});

test('snapshot rollover keeps everything, and a stale journal is not applied twice', async () => {
  const d = dir();
  let m = await LocalMetaStore.open(fs, d, { journalBytesMax: 500 });
  for (let i = 0; i < 100; i++) await m.put(rec(`q${i % 7}`, i));
  await m.close();
  assert.ok(statSync(join(d, 'meta.snapshot')).size > 0);
  // Simulate a crash after the snapshot was written but before the journal was emptied: keep old entries.
  const snapSeq = JSON.parse(readFileSync(join(d, 'meta.snapshot'), 'utf8')).seq as number;
  assert.ok(snapSeq > 0);
  m = await LocalMetaStore.open(fs, d, { journalBytesMax: 500 });
  assert.equal(m.list('queue').length, 7);
  assert.equal(m.get('queue', 'q1')?.value['n'], 99);
  await m.close();
});

test('a torn tail entry is truncated; a corrupt entry followed by valid ones is refused', async () => {
  const d = dir();
  let m = await LocalMetaStore.open(fs, d);
  await m.put(rec('a', 1));
  await m.put(rec('b', 2));
  await m.close();
  const jp = join(d, 'meta.journal');
  const full = statSync(jp).size;
  appendFileSync(jp, Buffer.from([0, 0, 0, 50, 1, 2, 3, 4, 9, 9]));
  m = await LocalMetaStore.open(fs, d);
  assert.equal(m.list('queue').length, 2);
  assert.equal(statSync(jp).size, full);
  await m.close();
  // Flip a byte in the first entry's payload: valid entries follow, so this is corruption, not a torn write.
  const buf = readFileSync(jp);
  buf[12] = buf[12]! ^ 0xff;
  writeFileSync(jp, buf);
  await assert.rejects(LocalMetaStore.open(fs, d), (e: unknown) => e instanceof StorageError && e.kind === 'CORRUPT' && /offset 0/.test(e.message));
});

test('property: a crash at any byte of the journal keeps exactly a prefix of the applies', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer(), fc.boolean()), { minLength: 1, maxLength: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), async (ops, cut) => {
      const d = dir();
      const m = await LocalMetaStore.open(fs, d);
      const states: string[] = [JSON.stringify([])];
      for (const [k, n, del] of ops) {
        if (del) await m.delete('queue', k);
        else await m.put(rec(k, n));
        states.push(JSON.stringify(m.all()));
      }
      await m.close();
      const jp = join(d, 'meta.journal');
      truncateSync(jp, Math.floor(statSync(jp).size * cut));
      const r = await LocalMetaStore.open(fs, d);
      const now = JSON.stringify(r.all());
      await r.close();
      assert.ok(states.includes(now), `state after crash is not a prefix state: ${now}`);
    }),
    { numRuns: 40 },
  );
});

test('a bad length field in the middle of the journal refuses to start instead of dropping the later entries', async () => {
  const d = dir();
  let m = await LocalMetaStore.open(fs, d);
  for (const k of ['a', 'b', 'c', 'd']) await m.put(rec(k, 1));
  await m.close();
  const jp = join(d, 'meta.journal');
  const before = readFileSync(jp);
  // The second entry's length: make it point past the end of the file (reads as 'short entry'), then at a
  // place inside the file (reads as a bad checksum); entries 3 and 4 are valid after it either way.
  const second = 8 + before.readUInt32BE(0);
  for (const len of [0x00ffffff, before.readUInt32BE(second) + 3]) {
    const buf = Buffer.from(before);
    buf.writeUInt32BE(len, second);
    writeFileSync(jp, buf);
    await assert.rejects(
      LocalMetaStore.open(fs, d),
      (e: unknown) => e instanceof StorageError && e.kind === 'CORRUPT' && e.position === second && e.message.includes(jp) && e.message.includes(`offset ${second}`),
    );
    assert.deepEqual(readFileSync(jp), buf, 'the journal is left as it was');
  }
});

test('a torn tail is still repaired, and the store says it was (repairedTail)', async () => {
  const d = dir();
  let m = await LocalMetaStore.open(fs, d);
  await m.put(rec('a', 1));
  await m.put(rec('b', 2));
  assert.equal(m.repairedTail, false);
  await m.close();
  const jp = join(d, 'meta.journal');
  const full = statSync(jp).size;
  truncateSync(jp, full - 3);
  m = await LocalMetaStore.open(fs, d);
  assert.equal(m.repairedTail, true);
  assert.deepEqual(m.list('queue'), [rec('a', 1)]);
  await m.put(rec('c', 3));
  await m.close();
  m = await LocalMetaStore.open(fs, d);
  assert.equal(m.repairedTail, false);
  assert.deepEqual(m.list('queue'), [rec('a', 1), rec('c', 3)]);
  await m.close();
});

test('a write whose partial entry could not be cut back is removed before the next write', async () => {
  const mem = new MemoryFileSystem();
  const m = await LocalMetaStore.open(mem, '/meta');
  await m.put(rec('a', 1));
  mem.capacityBytes = mem.usedBytes() + 10; // the next entry is written only in part (ENOSPC)
  mem.failNext('truncate', 'EIO'); // and cutting it back fails too
  await assert.rejects(m.put(rec('b', 2)), (e: unknown) => e instanceof StorageError && e.kind === 'ENOSPC');
  mem.capacityBytes = Number.MAX_SAFE_INTEGER;
  await m.put(rec('c', 3));
  await m.close();
  const r = await LocalMetaStore.open(mem, '/meta');
  assert.equal(r.repairedTail, false);
  assert.deepEqual(r.list('queue'), [rec('a', 1), rec('c', 3)]);
  await r.close();
});
