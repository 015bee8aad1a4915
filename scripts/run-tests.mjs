// Finds the compiled test files and hands them to node's test runner (Node 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs [filter-substring...]
// --test-force-exit: a file whose failed test left sockets open still ends (a failure never becomes a hang);
// --test-timeout: no test without its own timeout runs past 5 minutes.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-force-exit', '--test-timeout=300000', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
