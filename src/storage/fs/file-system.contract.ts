// One contract suite for every FileSystem implementation (design.md §2): registers node:test tests
// against a factory that gives a fresh file system and a root directory in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinPath, type FileSystem } from './file-system.js';

export function fileSystemContract(name: string, make: () => Promise<{ fs: FileSystem; root: string }>): void {
  test(`${name}: open/append/read/size/truncate`, async () => {
    const { fs, root } = await make();
    const p = joinPath(root, 'a.bin');
    await assert.rejects(fs.open(p, 'r'));
    const h = await fs.open(p, 'rw');
    assert.equal(h.size, 0);
    await h.append([Buffer.from('hello '), Buffer.from('world')]);
    assert.equal(h.size, 11);
    const buf = Buffer.alloc(20);
    assert.equal(await h.read(buf, 0, 20, 0), 11);
    assert.equal(buf.toString('utf8', 0, 11), 'hello world');
    assert.equal(await h.read(buf, 0, 5, 6), 5);
    assert.equal(buf.toString('utf8', 0, 5), 'world');
    await h.writeAt(Buffer.from('J'), 0);
    await h.sync();
    await h.truncate(5);
    assert.equal(h.size, 5);
    await h.close();
    assert.equal((await fs.readFile(p)).toString(), 'Jello');
    assert.equal(await fs.size(p), 5);
    const again = await fs.open(p, 'rw');
    assert.equal(again.size, 5, 'reopen does not truncate');
    await again.close();
  });

  test(`${name}: directories, list, rename, unlink, atomic write, rmdir`, async () => {
    const { fs, root } = await make();
    const d = joinPath(root, 'x/y');
    await fs.mkdir(d);
    await fs.mkdir(d);
    assert.ok(await fs.exists(d));
    assert.deepEqual(await fs.list(joinPath(root, 'missing')), []);
    await fs.writeFileAtomic(joinPath(d, 'f'), Buffer.from('1'));
    await fs.writeFileAtomic(joinPath(d, 'f'), Buffer.from('22'));
    assert.equal((await fs.readFile(joinPath(d, 'f'))).toString(), '22');
    await fs.rename(joinPath(d, 'f'), joinPath(d, 'g'));
    assert.deepEqual(await fs.list(d), ['g']);
    await fs.syncDir(d);
    await fs.unlink(joinPath(d, 'g'));
    assert.equal(await fs.exists(joinPath(d, 'g')), false);
    assert.equal(await fs.size(joinPath(d, 'g')), undefined);
    await assert.rejects(fs.readFile(joinPath(d, 'g')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    await fs.writeFileAtomic(joinPath(d, 'h'), Buffer.from('x'));
    await fs.rmdir(joinPath(root, 'x'));
    assert.equal(await fs.exists(d), false);
    await fs.rmdir(joinPath(root, 'x'));
  });
}
