// Crash test (issue: foundation): a real child process appends and confirms under load with fsync=always;
// we SIGKILL it at random moments, 20 times. After each kill every confirmed record must be present, in
// order, exactly once (value i carries sequence number i), and the store must reopen cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { NodeFileSystem } from '../../src/storage/fs/node-fs.js';
import { FilePartitionLog } from '../../src/storage/log/partition-log.js';

const child = resolve(dirname(fileURLToPath(import.meta.url)), 'append-child.js');

function runAndKill(dir: string, runMs: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let confirmed = -1;
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    createInterface({ input: p.stdout }).on('line', (line) => {
      if (line.startsWith('opened')) setTimeout(() => p.kill('SIGKILL'), runMs);
      const m = /^confirmed (\d+)$/.exec(line);
      if (m) confirmed = Math.max(confirmed, Number(m[1]));
    });
    p.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code}: ${stderr}`));
      else resolvePromise(confirmed);
    });
  });
}

test('SIGKILL at random moments under fsync=always loses no confirmed record, 20 rounds', { timeout: 120_000 }, async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'crash-')), 'p');
  let confirmedEver = -1;
  let totalRecords = 0;
  for (let round = 0; round < 20; round++) {
    const confirmed = await runAndKill(dir, 50 + Math.floor(Math.random() * 350));
    confirmedEver = Math.max(confirmedEver, confirmed);
    const log = await FilePartitionLog.open({ fs: new NodeFileSystem(), dir, segmentBytesMax: 256 * 1024 });
    assert.ok(log.nextOffset > confirmedEver, `round ${round}: log ends at ${log.nextOffset}, confirmed ${confirmedEver}`);
    let o = 0;
    while (o < log.nextOffset) {
      const recs = await log.readRecords(o, 100_000, 1024 * 1024);
      for (const r of recs) {
        assert.equal(r.offset, o);
        assert.ok(r.value!.toString().startsWith(`seq-${o}-`), `round ${round}: offset ${o} holds ${r.value!.toString().slice(0, 20)}`);
        o++;
      }
    }
    totalRecords = log.nextOffset;
    await log.close();
  }
  assert.ok(totalRecords > 1000, `the load was too light to mean anything (${totalRecords} records)`);
});
