import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from './buffer-pool.js';

test('buffer pool: sizes, reuse of released slabs, views, double release, small and huge sizes, the free cap', () => {
  const pool = new BufferPool({ minBytes: 1024, maxBytes: 1 << 20, freeBytesMax: 3 << 16 });
  const a = pool.acquire(40_000);
  assert.equal(a.length, 40_000);
  assert.equal(a.buffer.byteLength, 1 << 16, 'rounded up to a power-of-two slab');
  pool.release(a.subarray(100, 200)); // any view of the slab gives it back
  assert.equal(pool.freeSizeBytes, 1 << 16);
  pool.release(a); // a second release is ignored
  assert.equal(pool.freeSizeBytes, 1 << 16);
  const b = pool.acquire(50_000);
  assert.equal(b.buffer, a.buffer, 'the released slab is reused');
  assert.equal(pool.freeSizeBytes, 0);
  const c = pool.acquire(50_000);
  assert.notEqual(c.buffer, b.buffer, 'a slab in use is never handed out twice');
  // Sizes outside the pooled range are plain allocations and releasing them does nothing.
  const small = pool.acquire(100);
  const huge = pool.acquire((1 << 20) + 1);
  pool.release(small);
  pool.release(huge);
  pool.release(Buffer.alloc(4096));
  assert.equal(pool.freeSizeBytes, 0);
  // The free list keeps at most freeBytesMax.
  const many = Array.from({ length: 5 }, () => pool.acquire(60_000));
  for (const m of [b, c, ...many]) pool.release(m);
  assert.equal(pool.freeSizeBytes, 3 << 16);
  pool.trim();
  assert.equal(pool.freeSizeBytes, 0);
});

test('buffer pool: trimIdle drops the free slabs of sizes not asked for since the last trim', () => {
  const pool = new BufferPool({ minBytes: 1024, maxBytes: 1 << 20, freeBytesMax: 1 << 22 });
  const small = pool.acquire(2000); // 2 KiB class
  const big = pool.acquire(500_000); // 512 KiB class
  pool.release(small);
  pool.release(big);
  pool.trimIdle(); // both classes were used since the (implicit) start: kept
  assert.equal(pool.freeSizeBytes, 2048 + (1 << 19));
  pool.release(pool.acquire(1500)); // only the 2 KiB class is used again
  pool.trimIdle();
  assert.equal(pool.freeSizeBytes, 2048);
  pool.trimIdle();
  assert.equal(pool.freeSizeBytes, 0);
});
