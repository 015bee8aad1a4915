// Storage benchmark: append and read throughput of FilePartitionLog on the real disk.
// Run: npm run bench:storage   (prints a markdown table; see docs/benchmarks.md)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../../src/storage/fs/node-fs.js';
import { FilePartitionLog } from '../../src/storage/log/partition-log.js';
import { encodeBatch, type RecordInput } from '../../src/storage/log/record-batch.js';
import type { FsyncPolicy } from '../../src/storage/log/types.js';

const fs = new NodeFileSystem();
const RECORD_BYTES = 100;

function records(n: number, size: number): RecordInput[] {
  const value = Buffer.alloc(size, 7);
  const ts = Date.now();
  return Array.from({ length: n }, () => ({ key: null, value, timestamp: ts }));
}

interface Row {
  test: string;
  fsync: string;
  batch: number;
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
}

async function appendBench(batch: number, fsync: FsyncPolicy, totalRecords: number, size: number, encodeEach: boolean, concurrency: number): Promise<Row> {
  const root = mkdtempSync(join(tmpdir(), 'bench-storage-'));
  const log = await FilePartitionLog.open({ fs, dir: join(root, 'p'), fsync });
  const recs = records(batch, size);
  const pre = encodeBatch(recs);
  const batches = Math.max(1, Math.floor(totalRecords / batch));
  let bytes = 0;
  const start = process.hrtime.bigint();
  let issued = 0;
  async function worker(): Promise<void> {
    while (issued < batches) {
      issued++;
      const buf = encodeEach ? encodeBatch(recs) : Buffer.from(pre);
      bytes += buf.length;
      await log.append(buf);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await log.close();
  rmSync(root, { recursive: true, force: true });
  const n = batches * batch;
  return { test: encodeEach ? 'appendRecords (encode+append)' : 'append (pre-encoded batch)', fsync, batch, records: n, seconds, recordsPerSec: n / seconds, mbPerSec: bytes / seconds / 1e6 };
}

async function readBench(totalRecords: number, batch: number): Promise<Row> {
  const root = mkdtempSync(join(tmpdir(), 'bench-storage-'));
  const log = await FilePartitionLog.open({ fs, dir: join(root, 'p'), fsync: 'never' });
  const pre = encodeBatch(records(batch, RECORD_BYTES));
  for (let i = 0; i < totalRecords / batch; i++) await log.append(Buffer.from(pre));
  await log.flush();
  const start = process.hrtime.bigint();
  let o = 0;
  let bytes = 0;
  while (o < log.nextOffset) {
    const r = await log.read(o, 1024 * 1024);
    bytes += r.data.length;
    // advance past the last batch returned
    let p = 0;
    let last = o;
    while (p < r.data.length) {
      last = Number(r.data.readBigInt64BE(p)) + r.data.readInt32BE(p + 23);
      p += r.data.readInt32BE(p + 8) + 12;
    }
    o = last + 1;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await log.close();
  rmSync(root, { recursive: true, force: true });
  return { test: 'read 1 MB at a time (page cache)', fsync: '-', batch, records: totalRecords, seconds, recordsPerSec: totalRecords / seconds, mbPerSec: bytes / seconds / 1e6 };
}

const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;
const rows: Row[] = [];
for (const fsync of ['never', 'always'] as const) {
  for (const batch of [1, 100, 1000]) {
    const total = Math.floor((batch === 1 ? (fsync === 'always' ? 5_000 : 100_000) : fsync === 'always' ? 500_000 : 2_000_000) * scale);
    rows.push(await appendBench(batch, fsync, total, RECORD_BYTES, false, fsync === 'always' ? 32 : 4));
    if (batch > 1) rows.push(await appendBench(batch, fsync, total, RECORD_BYTES, true, fsync === 'always' ? 32 : 4));
  }
  rows.push({ ...(await appendBench(1, fsync, Math.floor((fsync === 'always' ? 200 : 2_000) * scale), 1024 * 1024, false, 4)), test: 'append 1 MB records (large batches)' });
}
rows.push(await readBench(Math.floor(2_000_000 * scale), 1000));

console.log(`| test | fsync | records/batch | records | s | records/s | MB/s |`);
console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: |`);
for (const r of rows) {
  console.log(`| ${r.test} | ${r.fsync} | ${r.batch} | ${r.records} | ${r.seconds.toFixed(2)} | ${Math.round(r.recordsPerSec).toLocaleString('en-US')} | ${r.mbPerSec.toFixed(1)} |`);
}
