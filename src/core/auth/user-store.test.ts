import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { NodeFileSystem } from '../../storage/fs/node-fs.js';
import { LocalMetaStore } from '../../storage/meta/local-meta-store.js';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import { UserStore } from './user-store.js';
import { passwordCheckStats } from './password-check.js';

async function store() {
  const meta = await LocalMetaStore.open(new NodeFileSystem(), mkdtempSync(join(tmpdir(), 'users-')));
  return { meta, users: new UserStore(meta) };
}

test('PLAIN verification, loopback-only users, and persistence', async () => {
  const { meta, users } = await store();
  await users.put('guest', 'guest', { loopbackOnly: true, iterations: 64 });
  await users.put('app', 's3cret', { iterations: 64 });
  assert.equal(users.authenticatePlain('app', 's3cret', false).name, 'app');
  assert.throws(() => users.authenticatePlain('app', 'wrong', true), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.AccessRefused);
  assert.throws(() => users.authenticatePlain('nobody', 'x', true), BrokerError);
  assert.equal(users.authenticatePlain('guest', 'guest', true).name, 'guest');
  assert.throws(() => users.authenticatePlain('guest', 'guest', false), /only connect via localhost/);
  const again = new UserStore(meta);
  assert.equal(again.authenticatePlain('app', 's3cret', false).name, 'app');
  await meta.close();
});

test('stored SCRAM keys follow RFC 5802 (a client can prove the password)', async () => {
  const { meta, users } = await store();
  const u = await users.put('k', 'pencil', { iterations: 4096 });
  const salted = pbkdf2Sync('pencil', u.scram.salt, 4096, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), u.scram.storedKey);
  assert.deepEqual(createHmac('sha256', salted).update('Server Key').digest(), u.scram.serverKey);
  await meta.close();
});

test('permissions: RabbitMQ-style regexes per vhost', async () => {
  const { meta, users } = await store();
  await users.put('u', 'p', { iterations: 16 });
  await users.setPermission('u', '/', { configure: '^tmp-', write: '.*', read: '' });
  assert.equal(users.canAccessVhost('u', '/'), true);
  assert.equal(users.canAccessVhost('u', 'other'), false);
  assert.equal(users.isAllowed('u', '/', 'configure', 'tmp-1'), true);
  assert.equal(users.isAllowed('u', '/', 'configure', 'q'), false);
  assert.equal(users.isAllowed('u', '/', 'read', 'q'), false);
  await assert.rejects(users.setPermission('u', '/', { configure: '(', write: '', read: '' }), BrokerError);
  await assert.rejects(users.setPermission('ghost', '/', { configure: '', write: '', read: '' }), BrokerError);
  await users.delete('u');
  assert.equal(new UserStore(meta).get('u'), undefined);
  await meta.close();
});

test('verifyPlain derives on the threadpool once per credential, shares concurrent checks, and forgets a user that changed', async () => {
  const { meta, users } = await store();
  await users.put('app', 's3cret', { iterations: 64 });
  const before = passwordCheckStats.derivations;
  // 50 concurrent checks of the same credentials: one derivation.
  const all = await Promise.all(Array.from({ length: 50 }, () => users.verifyPlain('app', 's3cret', false)));
  assert.ok(all.every((u) => u.name === 'app'));
  assert.equal(passwordCheckStats.derivations - before, 1);
  // Cached: no derivation at all, the sync path too.
  await users.verifyPlain('app', 's3cret', false);
  users.authenticatePlain('app', 's3cret', false);
  assert.equal(passwordCheckStats.derivations - before, 1);
  // Wrong passwords are never cached (each costs a derivation) and refused.
  await assert.rejects(users.verifyPlain('app', 'wrong', false), (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.AccessRefused);
  await assert.rejects(users.verifyPlain('app', 'wrong', false), BrokerError);
  await assert.rejects(users.verifyPlain('nobody', 'x', false), BrokerError);
  assert.equal(passwordCheckStats.derivations - before, 4);
  // A new password: the old one no longer logs in, the new one does.
  await users.put('app', 'new-secret', { iterations: 64 });
  await assert.rejects(users.verifyPlain('app', 's3cret', false), BrokerError);
  assert.equal((await users.verifyPlain('app', 'new-secret', false)).name, 'app');
  // Deleted: refused although the check was cached.
  await users.delete('app');
  await assert.rejects(users.verifyPlain('app', 'new-secret', false), BrokerError);
  await meta.close();
});
