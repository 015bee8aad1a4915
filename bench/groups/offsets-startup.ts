// Start-up time against committed-offset history: commits COMMITS offsets (KEYS distinct group/partition
// keys, 64 commits in flight) through the broker's group coordinator, closes the broker, then times
// Broker.open on the same data dir, each in a fresh process (a cold start, as a real restart is), three
// times, and reports the size of the internal `__consumer_offsets` log before the first of them.
// Usage: node dist/bench/groups/offsets-startup.js [COMMITS=200000] [KEYS=1000]
import { mkdtempSync, readdirSync, statSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.js';
import { configureLogger } from '../../src/lib/logger.js';

configureLogger('silent');
if (process.argv[2] === '--open') {
  const s = process.hrtime.bigint();
  const b = await Broker.open({ dataDir: process.argv[3]!, fsync: 'never' });
  console.log(Number(process.hrtime.bigint() - s) / 1e6);
  await b.close();
  process.exit(0);
}
const commits = Number(process.argv[2] ?? 200_000);
const keys = Number(process.argv[3] ?? 1000);
const dataDir = join(mkdtempSync(join(tmpdir(), 'offsets-bench-')), 'data');

function dirBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    n += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return n;
}
function findDir(dir: string, name: string): string | undefined {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (!statSync(p).isDirectory()) continue;
    if (e === name) return p;
    const f = findDir(p, name);
    if (f) return f;
  }
  return undefined;
}

const b = await Broker.open({ dataDir, fsync: 'never' });
const t0 = Date.now();
const inflight: Array<Promise<unknown>> = [];
for (let i = 0; i < commits; i++) {
  const k = i % keys;
  inflight.push(b.groups().commitOffsets(`group-${k % 100}`, -1, '', [{ stream: 'topic', partition: Math.floor(k / 100), offset: i, metadata: '' }]));
  if (inflight.length === 64) await Promise.all(inflight.splice(0));
}
await Promise.all(inflight);
const commitMs = Date.now() - t0;
await b.close();
const offsetsDir = findDir(dataDir, '__consumer_offsets')!;
const bytes = dirBytes(offsetsDir);
const runs: number[] = [];
for (let r = 0; r < 3; r++) {
  const out = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--open', dataDir], { encoding: 'utf8' });
  runs.push(Number(out.stdout.trim()));
}
console.log(JSON.stringify({ commits, keys, commitMs, offsetsLogBytes: bytes, startupMs: runs.map((x) => Math.round(x)) }));
if (process.env['KEEP']) console.log(dataDir);
else rmSync(dataDir, { recursive: true, force: true });
