import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultConfig, resolveConfig } from './config.js';

test('defaults are the embedded ones of design.md §5', () => {
  const c = resolveConfig({}, {});
  assert.deepEqual(c, defaultConfig);
  assert.equal(c.dataDir, './data');
  assert.equal(c.fsync, 'always');
  assert.equal(c.kafkaPort, 9092);
  assert.equal(c.amqpPort, 5672);
  assert.equal(c.httpPort, 15672);
});

test('precedence: command line > environment > config file > defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'junction.yaml');
  writeFileSync(file, 'data-dir: /from/file\nkafkaPort: 1111\namqp-port: 2222\nfsync: never\nmqtt-port: off\n');
  const env = { JUNCTION_KAFKA_PORT: '3333', JUNCTION_FSYNC: 'interval' };
  const c = resolveConfig({ config: file, fsync: 'always', httpPort: '0' }, env);
  assert.equal(c.dataDir, '/from/file');
  assert.equal(c.kafkaPort, 3333);
  assert.equal(c.amqpPort, 2222);
  assert.equal(c.mqttPort, 'off');
  assert.equal(c.fsync, 'always');
  assert.equal(c.httpPort, 0);
});

test('JUNCTION_CONFIG names the config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'j.yml');
  writeFileSync(file, 'stomp-port: 61614\n');
  assert.equal(resolveConfig({}, { JUNCTION_CONFIG: file }).stompPort, 61614);
});

test('bad values are refused with the option named', () => {
  assert.throws(() => resolveConfig({ kafkaPort: '70000' }, {}), (e: Error) => e instanceof ConfigError && /--kafka-port/.test(e.message));
  assert.throws(() => resolveConfig({ amqpPort: 'abc' }, {}), ConfigError);
  assert.throws(() => resolveConfig({}, { JUNCTION_FSYNC: 'sometimes' }), /JUNCTION_FSYNC/);
  assert.throws(() => resolveConfig({ fsyncIntervalMs: '0' }, {}), ConfigError);
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'no-such-option: 1\n');
  assert.throws(() => resolveConfig({ config: file }, {}), /unknown option 'no-such-option'/);
  writeFileSync(file, '- a\n- b\n');
  assert.throws(() => resolveConfig({ config: file }, {}), /mapping/);
  assert.throws(() => resolveConfig({ config: join(dir, 'missing.yaml') }, {}), ConfigError);
});
