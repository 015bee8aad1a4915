// The chaos test by hand: node dist/test/chaos/run.js [--rounds 100] [--seed N] [--strict]
// Prints every violation as it is found and a summary; exits 1 on a violation that is not known open
// (with --strict: on any violation). See chaos.ts for what runs and what is checked.
import { KNOWN_OPEN, runChaos, summarize } from './chaos.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const rounds = Number(arg('--rounds') ?? 100);
const seed = arg('--seed') !== undefined ? Number(arg('--seed')) : undefined;
const strict = process.argv.includes('--strict');
const started = Date.now();
const report = await runChaos({
  rounds,
  seed,
  log: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`),
});
console.log(summarize(report));
if (report.brokerProblems.length > 0) {
  console.log(`\nbroker warnings and errors (${report.brokerProblems.length}, first 20):`);
  for (const p of report.brokerProblems.slice(0, 20)) console.log(p);
}
const failing = report.violations.filter((v) => strict || KNOWN_OPEN[v.kind] === undefined);
process.exit(failing.length > 0 ? 1 : 0);
