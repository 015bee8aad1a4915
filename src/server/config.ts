// Server configuration (design.md §5): defaults < YAML config file < JUNCTION_* environment < command line.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { FsyncPolicy } from '../storage/log/types.js';

/** A listener port: a number (0 picks a free port) or 'off'. */
export type PortSetting = number | 'off';

export interface ServerConfig {
  dataDir: string;
  host: string;
  kafkaPort: PortSetting;
  amqpPort: PortSetting;
  mqttPort: PortSetting;
  stompPort: PortSetting;
  httpPort: PortSetting;
  /** Host name Kafka Metadata returns; defaults to `host`, or 127.0.0.1 when host is a wildcard. */
  advertisedHost: string | undefined;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Resource alarm (publishers blocked) while the data dir's file system has less free space than this. */
  diskFreeLimitBytes: number;
  /** Resource alarm while the process's resident memory exceeds this fraction of the machine's. */
  memoryHighWatermark: number;
  /** Kafka group.initial.rebalance.delay.ms: how long a rebalance of an empty group waits for more members. */
  groupInitialRebalanceDelayMs: number;
  /** Kafka group.min.session.timeout.ms / group.max.session.timeout.ms: the session timeouts members may ask for. */
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  /** Kafka offsets.retention.minutes: committed offsets of an empty group are removed this long after it became empty. */
  offsetsRetentionMinutes: number;
  /** Kafka offsets.retention.check.interval.ms: how often offsets expire and empty groups without offsets are removed. */
  offsetsRetentionCheckIntervalMs: number;
  logLevel: string;
}

export const defaultConfig: ServerConfig = {
  dataDir: './data',
  host: '0.0.0.0',
  kafkaPort: 9092,
  amqpPort: 5672,
  mqttPort: 1883,
  stompPort: 61613,
  httpPort: 15672,
  advertisedHost: undefined,
  fsync: 'always',
  fsyncIntervalMs: 200,
  diskFreeLimitBytes: 50 * 1024 * 1024,
  memoryHighWatermark: 0.4,
  groupInitialRebalanceDelayMs: 3000,
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1_800_000,
  offsetsRetentionMinutes: 7 * 24 * 60,
  offsetsRetentionCheckIntervalMs: 600_000,
  logLevel: 'info',
};

type Key = keyof ServerConfig;
const keys = Object.keys(defaultConfig) as Key[];
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const envName = (k: string) => 'JUNCTION_' + kebab(k).replace(/-/g, '_').toUpperCase();

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parsePort(name: string, v: unknown): PortSetting {
  if (v === 'off' || v === false) return 'off';
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name}: '${String(v)}' is not a port (0-65535 or 'off')`);
  return n;
}

function coerce(key: Key, v: unknown, name: string): ServerConfig[Key] {
  switch (key) {
    case 'kafkaPort':
    case 'amqpPort':
    case 'mqttPort':
    case 'stompPort':
    case 'httpPort':
      return parsePort(name, v);
    case 'fsync': {
      const s = String(v);
      if (s !== 'always' && s !== 'interval' && s !== 'never') throw new ConfigError(`${name}: '${s}' is not one of always, interval, never`);
      return s;
    }
    case 'fsyncIntervalMs': {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 60_000) throw new ConfigError(`${name}: '${String(v)}' is not a number of ms in 1..60000`);
      return n;
    }
    case 'diskFreeLimitBytes': {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${name}: '${String(v)}' is not a number of bytes`);
      return n;
    }
    case 'memoryHighWatermark': {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n > 1) throw new ConfigError(`${name}: '${String(v)}' is not a fraction in (0, 1]`);
      return n;
    }
    case 'groupInitialRebalanceDelayMs':
    case 'groupMinSessionTimeoutMs':
    case 'groupMaxSessionTimeoutMs':
    case 'offsetsRetentionMinutes':
    case 'offsetsRetentionCheckIntervalMs': {
      const n = Number(v);
      const min = key === 'groupInitialRebalanceDelayMs' ? 0 : 1;
      if (!Number.isSafeInteger(n) || n < min || n > 2 ** 31 - 1) throw new ConfigError(`${name}: '${String(v)}' is not an integer in ${min}..${2 ** 31 - 1}`);
      return n;
    }
    case 'logLevel': {
      const s = String(v);
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(s)) throw new ConfigError(`${name}: unknown log level '${s}'`);
      return s;
    }
    case 'advertisedHost':
    case 'dataDir':
    case 'host': {
      const s = String(v);
      if (s.length === 0) throw new ConfigError(`${name}: must not be empty`);
      return s;
    }
  }
}

/** Reads a YAML config file; keys are the option names in kebab-case or camelCase (`data-dir` or `dataDir`). */
export function readConfigFile(path: string): Partial<ServerConfig> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path}: expected a mapping of options`);
  const out: Partial<ServerConfig> = {};
  for (const [rawKey, value] of Object.entries(doc as Record<string, unknown>)) {
    const key = keys.find((k) => k === rawKey || kebab(k) === rawKey);
    if (!key) throw new ConfigError(`config file ${path}: unknown option '${rawKey}'`);
    (out as Record<string, unknown>)[key] = coerce(key, value, `config file ${path}: ${rawKey}`);
  }
  return out;
}

export function readEnv(env: NodeJS.ProcessEnv): Partial<ServerConfig> {
  const out: Partial<ServerConfig> = {};
  for (const key of keys) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '') (out as Record<string, unknown>)[key] = coerce(key, v, `environment ${envName(key)}`);
  }
  return out;
}

/** Options as the CLI parser delivers them (strings), keyed by camelCase name, plus `config`. */
export function resolveConfig(cli: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const configPath = (cli['config'] as string | undefined) ?? env['JUNCTION_CONFIG'];
  const fromFile = configPath ? readConfigFile(configPath) : {};
  const fromCli: Partial<ServerConfig> = {};
  for (const key of keys) {
    const v = cli[key];
    if (v !== undefined) (fromCli as Record<string, unknown>)[key] = coerce(key, v, `option --${kebab(key)}`);
  }
  return { ...defaultConfig, ...fromFile, ...readEnv(env), ...fromCli };
}

export const configOptionNames = keys.map(kebab);
export { envName as configEnvName, kebab as configOptionName };
