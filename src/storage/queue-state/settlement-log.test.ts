import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryFileSystem } from '../fs/memory-fs.js';
import { RangeSet } from './range-set.js';
import { SettlementLog } from './settlement-log.js';
import { StorageError } from '../../lib/errors.js';

test('RangeSet merges neighbours and counts members', () => {
  const r = new RangeSet();
  for (let i = 0; i < 1_000_000; i += 2) r.add(i);
  for (let i = 1; i < 1_000_000; i += 2) r.add(i);
  assert.equal(r.rangeCount, 1);
  assert.equal(r.size, 1_000_000);
  assert.equal(r.firstGapFrom(0), 1_000_000);
});

test('property: RangeSet equals a Set model', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(200), fc.nat(20))), (ops) => {
      const r = new RangeSet();
      const m = new Set<number>();
      for (const [s, n] of ops) {
        r.addRange(s, s + n);
        for (let i = s; i < s + n; i++) m.add(i);
      }
      assert.equal(r.size, m.size);
      for (let i = 0; i < 230; i++) assert.equal(r.has(i), m.has(i));
      const rs = r.ranges();
      for (let i = 1; i < rs.length; i++) assert.ok(rs[i]![0] > rs[i - 1]![1], 'disjoint, non-touching');
    }),
  );
});

test('in-order acks produce a few small writes, not one per ack', async () => {
  const fs = new MemoryFileSystem();
  const s = await SettlementLog.open(fs, '/q', { fsync: 'never' });
  for (let i = 0; i < 100_000; i++) s.settle(i);
  await s.flush();
  assert.ok((await fs.size('/q/settlement.journal'))! < 100);
  assert.equal(s.lowWatermark, 100_000);
  await s.close();
});

test('property: random settle / deliver / flush / crash / reopen / compact match a model', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ t: fc.constant('settle' as const), o: fc.nat(60) }),
          fc.record({ t: fc.constant('range' as const), o: fc.nat(60), n: fc.nat(10) }),
          fc.record({ t: fc.constant('deliver' as const), o: fc.nat(60) }),
          fc.record({ t: fc.constant('flush' as const) }),
          fc.record({ t: fc.constant('compact' as const) }),
          fc.record({ t: fc.constant('crash' as const), power: fc.boolean() }),
        ),
        { maxLength: 60 },
      ),
      async (ops) => {
        let fs = new MemoryFileSystem();
        const opts = { fsync: 'always' as const, compactBytes: 200 };
        let s = await SettlementLog.open(fs, '/q', opts);
        // model: what is durable (flushed) and what is only in memory
        let durable = { settled: new Set<number>(), counts: new Map<number, number>() };
        let live = { settled: new Set<number>(), counts: new Map<number, number>() };
        const clone = (x: typeof live) => ({ settled: new Set(x.settled), counts: new Map(x.counts) });
        for (const op of ops) {
          if (op.t === 'settle' || op.t === 'range') {
            const n = op.t === 'settle' ? 1 : op.n;
            s.settleRange(op.o, op.o + n);
            for (let i = op.o; i < op.o + n; i++) {
              live.settled.add(i);
              live.counts.delete(i);
            }
          } else if (op.t === 'deliver') {
            s.markDelivered(op.o);
            if (!live.settled.has(op.o)) live.counts.set(op.o, (live.counts.get(op.o) ?? 0) + 1);
          } else if (op.t === 'flush' || op.t === 'compact') {
            if (op.t === 'flush') await s.flush();
            else await s.compact();
            durable = clone(live);
          } else {
            fs = op.power ? fs.crash({ tail: 'torn' }) : fs.processCrash();
            s = await SettlementLog.open(fs, '/q', opts);
            // After a crash the state is at least the durable one and at most the live one.
            for (const o of durable.settled) assert.ok(s.isSettled(o), `lost settle of ${o}`);
            for (let o = 0; o < 80; o++) if (s.isSettled(o)) assert.ok(live.settled.has(o), `phantom settle of ${o}`);
            live = { settled: new Set<number>(), counts: new Map<number, number>() };
            for (let o = 0; o < 80; o++) {
              if (s.isSettled(o)) live.settled.add(o);
              else if (s.deliveryCount(o) > 0) live.counts.set(o, s.deliveryCount(o));
            }
            durable = clone(live);
          }
        }
        for (let o = 0; o < 80; o++) {
          assert.equal(s.isSettled(o), live.settled.has(o));
          if (!live.settled.has(o)) assert.equal(s.deliveryCount(o), live.counts.get(o) ?? 0);
        }
        await s.close();
      },
    ),
    { numRuns: 150 },
  );
});

test('RangeSet handles offsets beyond 2^32 and huge prefix ranges', () => {
  const r = new RangeSet();
  r.addRange(0, 5_000_000_000);
  assert.equal(r.firstGapFrom(0), 5_000_000_000);
  r.add(5_000_000_002);
  assert.ok(r.has(5_000_000_002) && !r.has(5_000_000_001) && r.has(4_999_999_999));
  r.add(5_000_000_000);
  r.add(5_000_000_001);
  assert.equal(r.firstGapFrom(0), 5_000_000_003);
  assert.deepEqual(r.ranges(), [[0, 5_000_000_003]]);
});

test('a bad length in the middle of the settlement journal is refused as corruption, not dropped as a torn tail', async () => {
  const fs = new MemoryFileSystem();
  const s = await SettlementLog.open(fs, '/q', { fsync: 'always' });
  for (let i = 0; i < 4; i++) {
    s.settleRange(i * 10, i * 10 + 5);
    await s.flush();
  }
  await s.close();
  const j = await fs.readFile('/q/settlement.journal');
  const second = 8 + j.readUInt32BE(0);
  // Flip the high byte of the second frame's length: it now reaches past the end of the file.
  fs.corrupt('/q/settlement.journal', second, 1);
  await assert.rejects(
    SettlementLog.open(fs, '/q', { fsync: 'always' }),
    (e: unknown) => e instanceof StorageError && e.kind === 'CORRUPT' && e.position === second && e.message.includes('/q/settlement.journal'),
  );
  assert.equal((await fs.readFile('/q/settlement.journal')).length, j.length, 'nothing truncated');
  // A torn last frame is still a tail: cut off, the frames before it kept.
  fs.corrupt('/q/settlement.journal', second, 1);
  const h = await fs.open('/q/settlement.journal', 'rw');
  await h.truncate(j.length - 3);
  await h.sync();
  const t = await SettlementLog.open(fs, '/q', { fsync: 'always' });
  assert.deepEqual([t.isSettled(24), t.isSettled(30)], [true, false]);
  await t.close();
});
