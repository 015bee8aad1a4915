// Durability mutants: breaks durability on purpose, one way at a time, and checks that the tests notice.
// Usage: npm run test:mutants [-- name...]   (names: a subset of the mutants below; default all)
//        node scripts/mutants.mjs --check      (only checks that every mutant's snippets are in the source)
//
// Each mutant is a list of edits (file, exact original snippet, replacement). The script works on a copy of
// the tree in a temp dir (the source is never touched): it first checks that every snippet of every mutant is
// found exactly once (a refactor that moves the code fails here, loudly, so a mutant cannot silently rot),
// then for each mutant: restores the copy, applies the edits, builds, and runs the mutant's test groups in
// order, stopping at the first group that fails (the mutant is killed). It fails unless every mutant is
// killed. Mutants that wait for a fix not yet on main are listed in scripts/mutants.md as pending.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * name: what is broken; edits: [file, original, replacement]; tests: groups of run-tests.mjs filters, run in
 * this order (fastest killer first), each group one run.
 */
const MUTANTS = [
  {
    name: 'confirm-before-fsync',
    what: 'under fsync=always the partition log resolves an append once written, before its fdatasync (which still runs)',
    edits: [
      [
        'src/storage/log/partition-log.ts',
        '    return written.then((r) => this.groupSync().then(() => r));',
        '    return written.then((r) => {\n      void this.groupSync().catch(() => undefined);\n      return r;\n    });',
      ],
    ],
    tests: [['power-loss/kafka'], ['power-loss/amqp'], ['partition-log.test']],
  },
  {
    name: 'settlement-not-persisted',
    what: 'acks (settlements) change the queue in memory but are never written to the settlement journal',
    edits: [
      [
        'src/storage/queue-state/settlement-log.ts',
        '    this.applySettle(start, endExclusive);\n    const n = this.pendingEnds.length;',
        '    this.applySettle(start, endExclusive);\n    if (endExclusive > start) return;\n    const n = this.pendingEnds.length;',
      ],
    ],
    tests: [['power-loss/amqp'], ['settlement-log.test', 'crash/amqp']],
  },
  {
    name: 'high-watermark-is-written-end',
    what: 'under fsync=always/interval the durable end (high watermark) moves as soon as a write completes, before its fdatasync: consumers see unsynced records',
    edits: [
      [
        'src/storage/log/partition-log.ts',
        "      this.dirtySinceSync = true;\n      if (this.fsyncPolicy === 'never') {",
        "      this.dirtySinceSync = true;\n      this.advance(this.active, this.active.endPosition, next);\n      if (this.fsyncPolicy === 'never') {",
      ],
    ],
    tests: [['log/visibility.test'], ['power-loss/kafka'], ['power-loss/amqp']],
  },
  {
    name: 'data-dir-lock-skipped',
    what: 'a broker opens a data dir whose lock another broker holds (two brokers write one data dir)',
    edits: [['src/storage/data-dir.ts', '  if (lock) return lock;\n', '  if (lock || process.pid > 0) return lock ?? { release: async () => undefined };\n']],
    tests: [['storage/data-dir.test'], ['server/data-dir-lock']],
  },
  // Protocol-level durability off (the whole suite passed with it before the power-loss tests), one
  // mutant per path so that each is proven covered.
  {
    name: 'kafka-produce-not-durable',
    what: 'a Kafka produce with acks=1/-1 is appended as non-durable (answered before any fsync)',
    edits: [['src/protocols/kafka/handlers/produce.ts', '  const durable = req.acks !== 0;', '  const durable = false;']],
    tests: [['power-loss/kafka']],
  },
  {
    name: 'amqp-queue-publish-not-durable',
    what: 'a persistent AMQP publish to a durable queue is appended as non-durable (confirmed before any fsync)',
    edits: [['src/core/broker.ts', '        const stored = q.publish(msgs, { durable: !transient });', '        const stored = q.publish(msgs, { durable: false && !transient });']],
    tests: [['power-loss/amqp']],
  },
  {
    name: 'amqp-stream-publish-not-durable',
    what: 'an AMQP publish routed to a stream is appended as non-durable (confirmed before any fsync)',
    edits: [['src/core/broker.ts', '        await st.appendMessages(msgs);', '        await st.appendMessages(msgs, undefined, { durable: false });']],
    tests: [['power-loss/amqp']],
  },
];

function sh(cmd, args, cwd, quiet) {
  const r = spawnSync(cmd, args, { cwd, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit', encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function copyTree(dest) {
  const skip = new Set(['node_modules', 'dist', '.git']);
  cpSync(ROOT, dest, { recursive: true, filter: (src) => !skip.has(src.slice(ROOT.length + 1).split('/')[0]) });
  symlinkSync(join(ROOT, 'node_modules'), join(dest, 'node_modules'), 'dir');
}

/** Throws unless every snippet is found exactly once in the pristine file. */
function checkSnippets(mutants) {
  const problems = [];
  for (const m of mutants) {
    for (const [file, original] of m.edits) {
      let text;
      try {
        text = readFileSync(join(ROOT, file), 'utf8');
      } catch {
        problems.push(`${m.name}: ${file} does not exist`);
        continue;
      }
      const n = text.split(original).length - 1;
      if (n !== 1) problems.push(`${m.name}: snippet found ${n} times (want exactly 1) in ${file}:\n${original}`);
    }
  }
  if (problems.length > 0) {
    console.error(`mutants: the source moved; update scripts/mutants.mjs so that each mutant breaks the same thing again:\n\n${problems.join('\n\n')}`);
    process.exit(2);
  }
}

function main() {
  const check = process.argv.includes('--check');
  const wanted = process.argv.slice(2).filter((a) => a !== '--check');
  const unknown = wanted.filter((w) => !MUTANTS.some((m) => m.name === w));
  if (unknown.length > 0) {
    console.error(`mutants: unknown mutant(s) ${unknown.join(', ')}; known: ${MUTANTS.map((m) => m.name).join(', ')}`);
    process.exit(2);
  }
  const mutants = wanted.length > 0 ? MUTANTS.filter((m) => wanted.includes(m.name)) : MUTANTS;
  checkSnippets(mutants);
  if (check) {
    console.log(`mutants: the snippets of all ${mutants.length} mutants are in the source`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'junction-mutants-'));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => (cleanup(), process.exit(130)));
  const results = [];
  try {
    copyTree(work);
    const pristine = new Map();
    for (const m of mutants) for (const [file] of m.edits) if (!pristine.has(file)) pristine.set(file, readFileSync(join(work, file), 'utf8'));
    for (const m of mutants) {
      const started = Date.now();
      for (const [file, text] of pristine) writeFileSync(join(work, file), text);
      for (const [file, original, replacement] of m.edits) {
        const p = join(work, file);
        writeFileSync(p, readFileSync(p, 'utf8').replace(original, () => replacement));
      }
      console.log(`\n== mutant ${m.name}: ${m.what}`);
      const build = sh(process.execPath, [join(work, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], work, true);
      if (!build.ok) {
        // A mutant that does not compile proves nothing: fix its replacement.
        console.log(build.out);
        results.push({ name: m.name, killed: false, by: 'does not compile', ms: Date.now() - started });
        continue;
      }
      let by;
      for (const group of m.tests) {
        console.log(`-- ${m.name}: running ${group.join(' ')}`);
        const run = sh(process.execPath, ['scripts/run-tests.mjs', ...group], work, true);
        const failed = run.out.split('\n').filter((l) => /^not ok \d+ - /.test(l) && !/# TODO/.test(l));
        if (!run.ok) {
          by = `${group.join(' ')}: ${failed.slice(0, 3).map((l) => l.replace(/^not ok \d+ - /, '')).join('; ') || 'run failed'}`;
          break;
        }
      }
      results.push({ name: m.name, killed: by !== undefined, by: by ?? 'every test passed', ms: Date.now() - started });
      console.log(`== mutant ${m.name}: ${by ? `KILLED by ${by}` : 'SURVIVED (the tests did not notice)'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    cleanup();
  }
  console.log('\n# mutants');
  for (const r of results) console.log(`${r.killed ? 'killed  ' : 'SURVIVED'} ${r.name} (${(r.ms / 1000).toFixed(1)} s): ${r.by}`);
  const survivors = results.filter((r) => !r.killed);
  if (survivors.length > 0) {
    console.error(`\nmutants: ${survivors.length} of ${results.length} survived: the tests cannot see that durability is broken`);
    process.exit(1);
  }
  console.log(`\nmutants: all ${results.length} killed`);
}

main();
