// Queue and stream lifecycle in the broker: the data dir lock, incarnation directories, background removal,
// definitions of the old layout (no incarnation id), and the per-name order of definition changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker.js';
import { StorageError } from '../lib/errors.js';
import { MemoryFileSystem } from '../storage/fs/memory-fs.js';
import { NodeFileSystem } from '../storage/fs/node-fs.js';
import { LocalMetaStore } from '../storage/meta/local-meta-store.js';
import { NameLocks } from './name-locks.js';
import type { Message } from './message.js';

const msg = (routingKey: string, body: string): Message => ({ key: null, value: Buffer.from(body), timestamp: 0, headers: [], properties: { persistent: true }, routingKey });
const dataDir = () => join(mkdtempSync(join(tmpdir(), 'lifecycle-')), 'data');

test('a second broker on a data dir in use is refused, in this process too; once the first closes it opens', async () => {
  for (const fs of [new NodeFileSystem(), new MemoryFileSystem()]) {
    const dir = fs instanceof MemoryFileSystem ? '/data' : dataDir();
    const a = await Broker.open({ dataDir: dir, fs });
    await a.declareQueue('/', 'transient', { durable: false });
    await assert.rejects(Broker.open({ dataDir: dir, fs }), (e: unknown) => e instanceof StorageError && e.kind === 'LOCKED' && e.message === `data dir ${dir} is in use by process ${process.pid}`);
    assert.ok(a.getQueue('/', 'transient'), 'the refused open removed nothing');
    await a.close();
    const b = await Broker.open({ dataDir: dir, fs });
    await b.close();
  }
});

test('each incarnation of a name has its own directory; a deleted one leaves through the trash', async () => {
  const dir = dataDir();
  const b = await Broker.open({ dataDir: dir, fsync: 'never' });
  const queues = join(dir, 'vhosts', '%2F', 'queues');
  await b.declareQueue('/', 'q', { durable: true });
  const first = readdirSync(queues);
  assert.equal(first.length, 1);
  assert.match(first[0]!, /^q~[a-z0-9-]+$/);
  await b.publish('/', '', [msg('q', 'old')]);
  assert.equal(await b.deleteQueue('/', 'q'), 1);
  await b.declareQueue('/', 'q', { durable: true });
  const second = readdirSync(queues).filter((n) => n !== first[0]);
  assert.equal(second.length, 1, 'the new incarnation has a directory of its own');
  assert.equal(b.getQueue('/', 'q').messageCount, 0);
  // Non-durable and exclusive queues live apart, and are removed at the next start.
  await b.declareQueue('/', 'nd', { durable: false });
  await b.declareQueue('/', 'ex', { durable: true, exclusiveOwner: 'c1' });
  assert.equal(readdirSync(join(dir, 'vhosts', '%2F', 'transient')).length, 2);
  await b.createStream('/', 's');
  await b.deleteStream('/', 's');
  await b.close();
  assert.deepEqual(readdirSync(queues), second, 'the deleted incarnation is gone');
  assert.deepEqual(readdirSync(join(dir, 'vhosts', '%2F', 'streams')), []);
  assert.deepEqual(existsSync(join(dir, 'trash')) ? readdirSync(join(dir, 'trash')) : [], [], 'the trash is empty once removals end');
  const b2 = await Broker.open({ dataDir: dir });
  assert.equal(existsSync(join(dir, 'vhosts', '%2F', 'transient')), false, 'transient queues are removed at start');
  assert.equal(b2.getQueue('/', 'q').messageCount, 0);
  await b2.close();
});

test('definitions of the old layout (no incarnation id) keep their data', async () => {
  const dir = dataDir();
  const b = await Broker.open({ dataDir: dir, fsync: 'never' });
  await b.declareQueue('/', 'old-q', { durable: true });
  await b.publish('/', '', [msg('old-q', 'kept')]);
  const s = await b.createStream('/', 'old-s');
  await s.appendMessages([msg('', 'record')]);
  await b.close();
  // Rewrite as the old layout: bare names, definitions without incarnation.
  const fs = new NodeFileSystem();
  const meta = await LocalMetaStore.open(fs, join(dir, 'meta'));
  for (const kind of ['queue', 'stream'] as const) {
    for (const r of meta.list(kind)) {
      const { incarnation, ...rest } = r.value as { incarnation: string; name: string };
      const parent = join(dir, 'vhosts', '%2F', kind === 'queue' ? 'queues' : 'streams');
      renameSync(join(parent, `${rest.name}~${incarnation}`), join(parent, rest.name));
      await meta.put({ kind, key: r.key, value: rest });
    }
  }
  await meta.close();
  const b2 = await Broker.open({ dataDir: dir });
  assert.equal(b2.getQueue('/', 'old-q').messageCount, 1);
  assert.equal((await b2.getStream('/', 'old-s').readMessages(0, 0, 10)).length, 1);
  // Deleting and re-creating an old-layout name gives the new incarnation a directory of its own.
  await b2.deleteQueue('/', 'old-q');
  await b2.declareQueue('/', 'old-q', { durable: true });
  assert.equal(b2.getQueue('/', 'old-q').messageCount, 0);
  await b2.close();
  const b3 = await Broker.open({ dataDir: dir });
  assert.equal(b3.getQueue('/', 'old-q').messageCount, 0);
  await b3.close();
});

test('definition changes of one name run in the order asked, each after the previous settled', async () => {
  const locks = new NameLocks();
  const order: string[] = [];
  const step = (name: string, ms: number, fail = false) => async () => {
    order.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    order.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  const results = await Promise.allSettled([locks.run('a', step('a1', 20, true)), locks.run('a', step('a2', 1)), locks.run('b', step('b1', 5))]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  assert.deepEqual(order, ['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
  await locks.settled();
});

test('delete and re-declare of one name raced on the broker: every declare sees a whole incarnation', async () => {
  const b = await Broker.open({ dataDir: dataDir(), fsync: 'never' });
  for (let i = 0; i < 20; i++) {
    await b.declareQueue('/', 'r', { durable: true });
    await b.publish('/', '', [msg('r', `m${i}`)]);
    const [deleted, declared] = await Promise.all([b.deleteQueue('/', 'r'), b.declareQueue('/', 'r', { durable: true })]);
    assert.equal(deleted, 1);
    assert.equal(declared.messageCount, 0, 'the declare asked after the delete gets a new, empty incarnation');
    await b.deleteQueue('/', 'r');
  }
  await b.close();
});

test('no queue or stream data is deleted at start-up on the word of a repaired metadata journal', async () => {
  const dir = dataDir();
  const b = await Broker.open({ dataDir: dir, fsync: 'always' });
  await b.declareQueue('/', 'q1', { durable: true });
  await b.declareQueue('/', 'q2', { durable: true });
  await b.publish('/', '', [msg('q2', 'precious')]);
  await b.close();
  const queues = join(dir, 'vhosts', '%2F', 'queues');
  const before = readdirSync(queues).sort();
  assert.equal(before.length, 2);
  // A torn tail: the last entry (q2's definition) is cut short, as by a crash in the middle of its write.
  const journal = join(dir, 'meta', 'meta.journal');
  truncateSync(journal, statSync(journal).size - 3);
  const b2 = await Broker.open({ dataDir: dir });
  assert.ok(b2.meta.repairedTail);
  assert.throws(() => b2.getQueue('/', 'q2'), 'q2 has no definition any more');
  assert.deepEqual(readdirSync(queues).sort(), before, "q2's data is kept: its definition may be what the repair lost");
  await b2.close();
});
