// Child process for the crash test: appends batches (values carry a running sequence number) to a
// FilePartitionLog with fsync=always, several appends in flight, and prints `confirmed <lastOffset>` to
// stdout after each append resolves. The parent kills it with SIGKILL at random moments.
import { NodeFileSystem } from '../../src/storage/fs/node-fs.js';
import { FilePartitionLog } from '../../src/storage/log/partition-log.js';
import type { RecordInput } from '../../src/storage/log/record-batch.js';

const dir = process.argv[2]!;
const log = await FilePartitionLog.open({ fs: new NodeFileSystem(), dir, fsync: 'always', segmentBytesMax: 256 * 1024, indexIntervalBytes: 4096 });
let seq = log.nextOffset;
process.stdout.write(`opened ${seq}\n`);
const INFLIGHT = 8;

function nextBatch(): RecordInput[] {
  const n = 1 + Math.floor(Math.random() * 50);
  const out: RecordInput[] = [];
  for (let i = 0; i < n; i++) out.push({ key: null, value: Buffer.from(`seq-${seq++}-${'x'.repeat(Math.floor(Math.random() * 100))}`), timestamp: Date.now() });
  return out;
}

async function worker(): Promise<void> {
  for (;;) {
    const r = await log.appendRecords(nextBatch());
    process.stdout.write(`confirmed ${r.lastOffset}\n`);
  }
}
await Promise.all(Array.from({ length: INFLIGHT }, worker));
