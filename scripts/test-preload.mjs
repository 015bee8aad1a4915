// Loaded into every node process the test runner starts (test files and the brokers they spawn), through
// NODE_OPTIONS set by run-tests.mjs together with --unhandled-rejections=strict. Every unhandled rejection
// (strict mode raises it as an uncaught exception with origin 'unhandledRejection') is recorded in the
// directory named by JUNCTION_TEST_REJECTIONS_DIR, so that the runner fails even when the rejection came
// after a file's last test, in a child process, or was reported against a test that had already passed.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.JUNCTION_TEST_REJECTIONS_DIR;
if (dir) {
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    if (origin !== 'unhandledRejection') return;
    const what = err instanceof Error ? (err.stack ?? err.message) : String(err);
    try {
      appendFileSync(join(dir, `${process.pid}.txt`), `pid ${process.pid} (${process.argv.slice(1).join(' ')}):\n${what}\n\n`);
    } catch {
      // the runner's directory is gone: nothing left to report to
    }
  });
}
