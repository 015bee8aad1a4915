// Start-up time against the amount of data (issue 9, item 27). For each size N it fills one data dir with a
// durable queue holding N unsettled messages, one with the same queue after every message was acked, and one
// with a stream of N records, then times Broker.open on each (median of 3 opens, the page cache warm).
// Run: npm run build && node dist/bench/startup/run.js [N...]   (default: 1000000 10000000)
// Prints a markdown table (see docs/benchmarks.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.js';
import { configureLogger } from '../../src/lib/logger.js';
import { encodeBatch } from '../../src/storage/log/record-batch.js';
import type { Message } from '../../src/core/message.js';

const BODY_BYTES = 100;
const BATCH = 1000;
const OPENS = 3;

function messages(n: number): Message[] {
  const value = Buffer.alloc(BODY_BYTES, 7);
  return Array.from({ length: n }, () => ({ key: null, value, timestamp: 0, headers: [], properties: { persistent: true }, routingKey: 'q' }));
}

async function fillQueue(dataDir: string, n: number, ackAll: boolean): Promise<void> {
  const b = await Broker.open({ dataDir, fsync: 'never' });
  const q = await b.declareQueue('/', 'q', { durable: true });
  const batch = messages(BATCH);
  for (let i = 0; i < n; i += BATCH) await q.publish(batch.slice(0, Math.min(BATCH, n - i)));
  if (ackAll) {
    q.purge(); // settles every message, as acks would
    await q.trimLog();
  }
  await b.close();
}

async function fillStream(dataDir: string, n: number): Promise<void> {
  const b = await Broker.open({ dataDir, fsync: 'never' });
  const s = await b.createStream('/', 's', { partitions: 1 });
  const value = Buffer.alloc(BODY_BYTES, 7);
  const batch = encodeBatch(Array.from({ length: BATCH }, () => ({ key: null, value, timestamp: Date.now() })));
  for (let i = 0; i < n; i += BATCH) await s.appendBatches(0, Buffer.from(batch), { durable: false });
  await b.close();
}

/** Median wall-clock and CPU milliseconds of Broker.open (the machine may be shared: CPU time says more). */
async function timeOpens(dataDir: string): Promise<{ wall: number; cpu: number }> {
  const runs: Array<{ wall: number; cpu: number }> = [];
  for (let i = 0; i < OPENS; i++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const b = await Broker.open({ dataDir, fsync: 'never' });
    const c = process.cpuUsage(c0);
    runs.push({ wall: Number(process.hrtime.bigint() - t0) / 1e6, cpu: (c.user + c.system) / 1000 });
    await b.close();
  }
  runs.sort((a, b) => a.wall - b.wall);
  return runs[Math.floor(runs.length / 2)]!;
}

async function main(): Promise<void> {
  configureLogger('warn');
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  if (sizes.length === 0) sizes.push(1_000_000, 10_000_000);
  const rows: string[] = [];
  const empty = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const e = await timeOpens(join(empty, 'd'));
  rows.push(`| empty data dir | 0 | ${e.wall.toFixed(0)} | ${e.cpu.toFixed(0)} |`);
  rmSync(empty, { recursive: true, force: true });
  for (const n of sizes) {
    for (const kind of ['queue, unsettled', 'queue, all settled', 'stream'] as const) {
      const root = mkdtempSync(join(tmpdir(), 'bench-startup-'));
      const dir = join(root, 'd');
      const f0 = Date.now();
      if (kind === 'stream') await fillStream(dir, n);
      else await fillQueue(dir, n, kind === 'queue, all settled');
      const fillS = (Date.now() - f0) / 1000;
      const t = await timeOpens(dir);
      rows.push(`| ${kind} | ${n.toLocaleString('en')} | ${t.wall.toFixed(0)} | ${t.cpu.toFixed(0)} |`);
      process.stderr.write(`${kind} ${n}: filled in ${fillS.toFixed(1)} s, opens in ${t.wall.toFixed(0)} ms (${t.cpu.toFixed(0)} ms CPU)\n`);
      rmSync(root, { recursive: true, force: true });
    }
  }
  console.log('| data | records | Broker.open ms (median of 3) | CPU ms |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
}

await main();
