// Every durability mutant of scripts/mutants.mjs still finds the code it breaks (the full mutant run is
// `npm run test:mutants`, in .ci/run). When this fails, the code a mutant targets moved: update the mutant's
// snippet in scripts/mutants.mjs so that it breaks the same behaviour again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('every durability mutant finds its snippet in the source exactly once', () => {
  const r = spawnSync(process.execPath, ['scripts/mutants.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
