// What every Kafka API handler gets: the broker, the listener's settings and the connection's identity.
import type { Broker } from '../../../core/broker.js';
import type { Stream } from '../../../core/streams/stream.js';
import { DEFAULT_VHOST } from '../../../core/vhost.js';
import type { ResourceAlarms } from '../../../core/resource-alarms.js';

export interface KafkaSettings {
  /** Host and port returned in Metadata and FindCoordinator. */
  advertisedHost: string;
  advertisedPort: number;
  /** auto.create.topics.enable (Kafka's default: true). */
  autoCreateTopics: boolean;
  /** num.partitions for auto-created topics. */
  defaultPartitions: number;
  /** socket.request.max.bytes. */
  requestBytesMax: number;
  vhost: string;
  /** When true, only ApiVersions and SASL are answered before a successful SASL authentication. */
  saslRequired: boolean;
  /** Resource alarms in force (set by the server): Produce is held while one is on (produce-alarm.ts). */
  alarms?: ResourceAlarms;
}

export const defaultKafkaSettings: Omit<KafkaSettings, 'advertisedHost' | 'advertisedPort'> = {
  autoCreateTopics: true,
  defaultPartitions: 1,
  requestBytesMax: 100 * 1024 * 1024,
  vhost: DEFAULT_VHOST,
  saslRequired: false,
};

export interface HandlerContext {
  broker: Broker;
  settings: KafkaSettings;
  clientId: string;
  clientHost: string;
}

export const NODE_ID = 0;
export const CLUSTER_ID = 'junction';

export function findTopic(ctx: HandlerContext, name: string): Stream | undefined {
  return ctx.broker.findStream(ctx.settings.vhost, name);
}

export function validTopicName(name: string): boolean {
  return name.length > 0 && name.length <= 249 && /^[a-zA-Z0-9._-]+$/.test(name) && name !== '.' && name !== '..';
}
