// The `junction` command: `junction serve` starts the broker. (bench and admin commands arrive with
// their issues.)
import { Command, Option } from 'commander';
import { configureLogger } from '../lib/logger.js';
import { ConfigError, resolveConfig } from '../server/config.js';
import { startServer } from '../server/server.js';

const program = new Command('junction').description('Junction: one broker for queues and streams (Kafka, AMQP 0-9-1, MQTT, STOMP)');

program
  .command('serve')
  .description('start the broker (embedded defaults: data in ./data, every listener on its default port)')
  .option('--config <file>', 'YAML config file (keys: the long option names)')
  .option('--data-dir <dir>', 'where data lives (default ./data)')
  .option('--host <host>', 'address every listener binds (default 0.0.0.0)')
  .option('--kafka-port <port>', "Kafka listener port, 0 = any free port, 'off' = disabled (default 9092)")
  .option('--amqp-port <port>', 'AMQP 0-9-1 listener port (default 5672)')
  .option('--mqtt-port <port>', 'MQTT listener port (default 1883)')
  .option('--stomp-port <port>', 'STOMP listener port (default 61613)')
  .option('--http-port <port>', 'HTTP management/health port (default 15672)')
  .option('--advertised-host <host>', 'host name returned to Kafka clients in Metadata')
  .addOption(new Option('--fsync <policy>', 'when appends are fsynced (default always)').choices(['always', 'interval', 'never']))
  .option('--fsync-interval-ms <ms>', 'longest time between fsyncs with --fsync interval (default 200)')
  .option('--disk-free-limit-bytes <bytes>', 'block publishers while free disk space is below this (default 52428800)')
  .option('--memory-high-watermark <fraction>', 'block publishers while memory use exceeds this fraction of RAM (default 0.4)')
  .option('--group-initial-rebalance-delay-ms <ms>', 'Kafka: how long a rebalance of an empty group waits for more members (default 3000)')
  .option('--group-min-session-timeout-ms <ms>', 'Kafka: smallest session timeout a group member may ask for (default 6000)')
  .option('--group-max-session-timeout-ms <ms>', 'Kafka: largest session timeout a group member may ask for (default 1800000)')
  .option('--offsets-retention-minutes <min>', 'Kafka: committed offsets of an empty group are kept this long (default 10080, 7 days)')
  .option('--offsets-retention-check-interval-ms <ms>', 'Kafka: how often offsets expire and empty groups are removed (default 600000)')
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
  .addHelpText('after', '\nEvery option can also be set as JUNCTION_<OPTION> (e.g. JUNCTION_DATA_DIR) or in the config file.\nPrecedence: command line > environment > config file > defaults.')
  .action(async (opts: Record<string, unknown>) => {
    let config;
    try {
      config = resolveConfig(opts);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`junction: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const log = configureLogger(config.logLevel).child({ component: 'server' });
    let server;
    try {
      server = await startServer(config, log);
    } catch (err) {
      log.fatal({ err: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } }, 'start-up failed');
      process.stderr.write(`junction: start-up failed: ${(err as Error).message}\n`);
      process.exit(1);
    }
    let signals = 0;
    const stop = (signal: string) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without clean shutdown');
        process.exit(130);
      }
      log.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (err: Error) => {
          log.error({ err: { message: err.message } }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`junction: ${err.message}\n`);
  process.exit(1);
});
