// Start-up and shutdown (design.md §5): the only place that wires storage, core, protocols and HTTP.
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { Broker } from '../core/broker.js';
import { createHttpServer } from '../http/http-server.js';
import { createKafkaListener } from '../protocols/kafka/kafka-listener.js';
import { createAmqpListener, type AmqpListener } from '../protocols/amqp/amqp-listener.js';
import { ResourceMonitor } from './resource-monitor.js';
import { ResourceAlarms } from '../core/resource-alarms.js';
import { childLogger, type Logger } from '../lib/logger.js';
import type { ServerConfig } from './config.js';

export interface ListenerInfo {
  protocol: 'kafka' | 'amqp' | 'mqtt' | 'stomp' | 'http';
  address: string;
  port: number;
}

export interface RunningServer {
  readonly broker: Broker;
  readonly config: ServerConfig;
  readonly listeners: ListenerInfo[];
  /** Port a protocol is bound to (after port 0 was resolved), or undefined when off / not available. */
  port(protocol: ListenerInfo['protocol']): number | undefined;
  /** Resource alarms (disk, memory); `check()` re-measures at once. */
  readonly resources: ResourceMonitor;
  /** Stops accepting, finishes in-flight writes, fsyncs and closes. Idempotent. */
  close(): Promise<void>;
}

/** Protocols whose listeners arrive with their own issues: their options are accepted and validated now. */
const pendingProtocols = ['mqtt', 'stomp'] as const;

function listen(server: Server | NetServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startServer(config: ServerConfig, log: Logger = childLogger('server')): Promise<RunningServer> {
  const started = Date.now();
  const broker = await Broker.open({
    dataDir: config.dataDir,
    fsync: config.fsync,
    fsyncIntervalMs: config.fsyncIntervalMs,
    groupInitialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
    groups: {
      sessionTimeoutMinMs: config.groupMinSessionTimeoutMs,
      sessionTimeoutMaxMs: config.groupMaxSessionTimeoutMs,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
      offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs,
    },
  });
  const listeners: ListenerInfo[] = [];
  const closers: Array<() => Promise<void>> = [];
  let amqpListener: AmqpListener | undefined;
  const alarms = new ResourceAlarms();
  const resources = new ResourceMonitor({
    alarms,
    dataDir: config.dataDir,
    diskFreeLimitBytes: config.diskFreeLimitBytes,
    memoryHighWatermark: config.memoryHighWatermark,
    onChange: (reason) => amqpListener?.setAlarm(reason),
  });
  try {
    if (config.kafkaPort !== 'off') {
      const advertisedHost = config.advertisedHost ?? (config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host);
      const kafka = createKafkaListener(broker, { advertisedHost, advertisedPort: 0, alarms });
      const addr = await listen(kafka.server, config.kafkaPort, config.host);
      kafka.settings.advertisedPort = addr.port;
      listeners.push({ protocol: 'kafka', address: addr.address, port: addr.port });
      closers.push(() => kafka.close());
    }
    if (config.amqpPort !== 'off') {
      const amqp = (amqpListener = createAmqpListener(broker));
      // 0.0.0.0 (the default) means every address: '::' is dual-stack on Linux, so IPv4 and IPv6 clients both
      // connect; fall back to IPv4 only where IPv6 is off.
      let addr: AddressInfo;
      if (config.host === '0.0.0.0') {
        try {
          addr = await listen(amqp.server, config.amqpPort, '::');
        } catch {
          addr = await listen(amqp.server, config.amqpPort, '0.0.0.0');
        }
      } else addr = await listen(amqp.server, config.amqpPort, config.host);
      listeners.push({ protocol: 'amqp', address: addr.address, port: addr.port });
      closers.push(() => amqp.close());
    }
    if (config.httpPort !== 'off') {
      const http = createHttpServer(broker, { alarms });
      const addr = await listen(http, config.httpPort, config.host);
      listeners.push({ protocol: 'http', address: addr.address, port: addr.port });
      closers.push(
        () =>
          new Promise<void>((resolve) => {
            http.close(() => resolve());
            http.closeAllConnections();
          }),
      );
    }
  } catch (err) {
    await Promise.all(closers.map((c) => c()));
    await broker.close();
    throw err;
  }
  for (const p of pendingProtocols) {
    const setting = config[`${p}Port`];
    if (setting !== 'off') log.debug({ protocol: p, port: setting }, 'protocol listener not implemented yet');
  }
  for (const l of listeners) log.info({ protocol: l.protocol, address: l.address, port: l.port }, 'listening');
  log.info({ dataDir: config.dataDir, fsync: config.fsync, startupMs: Date.now() - started }, 'broker started');

  resources.start();
  let closing: Promise<void> | undefined;
  return {
    broker,
    resources,
    config,
    listeners,
    port: (protocol) => listeners.find((l) => l.protocol === protocol)?.port,
    close() {
      closing ??= (async () => {
        resources.stop();
        broker.beginShutdown();
        await Promise.all(closers.map((c) => c()));
        await broker.close();
        log.info({}, 'broker stopped');
      })();
      return closing;
    },
  };
}
