// Finds the compiled test files and hands them to node's test runner (Node 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs [filter-substring...]
// --test-force-exit: a file whose failed test left sockets open still ends (a failure never becomes a hang);
// --test-timeout: no test without its own timeout runs past 5 minutes.
// Unhandled rejections fail the run: every node process started under the runner (test files, and the
// brokers and helpers they spawn) inherits NODE_OPTIONS with --unhandled-rejections=strict and a preload
// (test-preload.mjs) that records each one in a temporary directory; any record makes the exit status 1.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const roots = ['dist/src', 'dist/test'];
const filters = process.argv.slice(2);
const files = [];
function walk(dir) {
  let names;
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(p);
  }
}
roots.forEach(walk);
files.sort();
if (files.length === 0) { console.error('no test files found'); process.exit(1); }

const rejections = mkdtempSync(join(tmpdir(), 'junction-rejections-'));
const preload = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'test-preload.mjs')).href;
const env = {
  ...process.env,
  JUNCTION_TEST_REJECTIONS_DIR: rejections,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --unhandled-rejections=strict --import=${preload}`.trim(),
};
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-force-exit', '--test-timeout=300000', ...files], { stdio: 'inherit', env });
let status = r.status ?? 1;
const records = readdirSync(rejections).map((n) => readFileSync(join(rejections, n), 'utf8'));
rmSync(rejections, { recursive: true, force: true });
if (records.length > 0) {
  console.error(`\n# FAIL: ${records.length} process(es) had unhandled promise rejections (every background promise must be handled):\n`);
  for (const t of records) console.error(t);
  status = 1;
}
process.exit(status);
