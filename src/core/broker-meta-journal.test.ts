// The broker over a damaged metadata journal: corruption in the middle refuses the start and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker.js';
import { StorageError } from '../lib/errors.js';
import type { Message } from './message.js';

const msg = (body: string): Message => ({ key: null, value: Buffer.from(body), timestamp: 0, headers: [], properties: { persistent: true }, routingKey: 'q3' });

/** Every file under `dir` with its size. */
function tree(dir: string, out: string[] = [], base = dir): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) tree(p, out, base);
    else out.push(`${p.slice(base.length)} ${statSync(p).size}`);
  }
  return out.sort();
}

test('a bad length in the middle of the metadata journal refuses the start and deletes no queue data', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'broker-meta-')), 'data');
  const b = await Broker.open({ dataDir: dir, fsync: 'always' });
  for (const q of ['q1', 'q2', 'q3']) await b.declareQueue('/', q, { durable: true });
  await b.publish('/', '', [msg('a'), msg('b')]);
  await b.close();
  const jp = join(dir, 'meta', 'meta.journal');
  const journal = readFileSync(jp);
  // The entry that declares q1; entries for q2 and q3 follow it.
  let pos = 0;
  while (!journal.subarray(pos + 8, pos + 8 + journal.readUInt32BE(pos)).toString().includes('"q1"')) pos += 8 + journal.readUInt32BE(pos);
  journal.writeUInt32BE(0x00ffffff, pos);
  writeFileSync(jp, journal);
  const before = tree(dir);
  await assert.rejects(Broker.open({ dataDir: dir, fsync: 'always' }), (e: unknown) => e instanceof StorageError && e.kind === 'CORRUPT' && e.message.includes(jp) && e.position === pos);
  assert.deepEqual(tree(dir), before, 'nothing in the data dir changed');
  assert.ok(before.some((f) => /\/q3~[a-z0-9-]+\/log\/\d+\.log [1-9]/.test(f)), 'q3 still has its records');
});
