// The committed generated codecs are exactly what the generators produce from the specs in specs/: run each
// generator into a temp dir and compare file by file (names and bytes). A hand edit under generated/, a
// generator change without regenerating, or a spec that went missing all fail here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function checkGenerator(script: string, committedDir: string): void {
  const out = mkdtempSync(join(tmpdir(), 'junction-gen-'));
  try {
    // No spec argument: the generator must find its input inside the repository.
    execFileSync(process.execPath, [join(ROOT, 'dist/scripts', script), '--out', out], { cwd: tmpdir(), stdio: 'pipe' });
    const committed = join(ROOT, committedDir);
    const want = readdirSync(committed).filter((f) => f.endsWith('.ts')).sort();
    const got = readdirSync(out).sort();
    assert.deepEqual(got, want, `${script} produces the same file names as ${committedDir}`);
    for (const f of got) {
      const a = readFileSync(join(out, f), 'utf8');
      const b = readFileSync(join(committed, f), 'utf8');
      assert.ok(a === b, `${committedDir}/${f} differs from what ${script} generates: run the generator and commit`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

test('committed Kafka codecs are what gen-kafka-codec generates from specs/kafka', () => {
  checkGenerator('gen-kafka-codec.js', 'src/protocols/kafka/codec/generated');
});

test('committed AMQP codecs are what gen-amqp-codec generates from specs/amqp', () => {
  checkGenerator('gen-amqp-codec.js', 'src/protocols/amqp/codec/generated');
});
