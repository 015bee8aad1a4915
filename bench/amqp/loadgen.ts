// One load-generator process: `producer` or `consumer` (argv[2]) with a JSON config (argv[3]). Prints one
// JSON line of results. bench/amqp/run.ts starts several of these against one broker at a time.
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';
import { LeanClient } from './lean-client.js';
import { BUCKETS, bucketOf } from './histogram.js';

export interface LoadConfig {
  host: string;
  port: number;
  queue: string;
  size: number;
  persistent: boolean;
  /** Producers: use publisher confirms with this many unconfirmed at most (0 = no confirms). */
  confirmWindow: number;
  /** Consumers: manual acks (multiple, once per read) with this prefetch; 0 = auto-ack. */
  prefetch: number;
  warmupS: number;
  seconds: number;
  /** Producers: publishes per socket write. */
  batch: number;
}


async function producer(c: LoadConfig, client: LeanClient): Promise<Record<string, unknown>> {
  const t = client.publishTemplate('', c.queue, c.size, c.persistent);
  let outstanding = 0;
  let confirmedTag = 0;
  let published = 0;
  let inWindow = 0;
  let wake: (() => void) | undefined;
  if (c.confirmWindow > 0) {
    await client.rpc(M.encodeConfirmSelectFrame(1, { nowait: false }), 'confirm.select-ok');
    client.onConfirm = (tag, multiple) => {
      const n = multiple ? tag - confirmedTag : 1;
      confirmedTag = Math.max(confirmedTag, tag);
      outstanding -= n;
      const w = wake;
      wake = undefined;
      w?.();
    };
  }
  client.socket.on('drain', () => {
    const w = wake;
    wake = undefined;
    w?.();
  });
  const start = Date.now();
  const from = start + c.warmupS * 1000;
  const end = from + c.seconds * 1000;
  for (let now = Date.now(); now < end; now = Date.now()) {
    let n = c.batch;
    if (c.confirmWindow > 0) n = Math.min(n, c.confirmWindow - outstanding);
    if (n <= 0) {
      await new Promise<void>((r) => (wake = r));
      continue;
    }
    const ok = client.publishBatch(t, c.size, n);
    outstanding += c.confirmWindow > 0 ? n : 0;
    published += n;
    if (now >= from) inWindow += n;
    if (!ok) await new Promise<void>((r) => (wake = r));
    else await new Promise<void>((r) => setImmediate(r));
  }
  return { role: 'producer', published, rate: Math.round(inWindow / c.seconds) };
}

async function consumer(c: LoadConfig, client: LeanClient): Promise<Record<string, unknown>> {
  const hist = new Array<number>(BUCKETS).fill(0);
  let received = 0;
  let inWindow = 0;
  let lastTag = 0;
  let ackedTag = 0;
  const start = Date.now();
  const from = start + c.warmupS * 1000;
  const end = from + c.seconds * 1000;
  let measuring = false;
  const timer = setInterval(() => (measuring = Date.now() >= from && Date.now() < end), 5);
  client.onDelivery = (tag, sentNs) => {
    received++;
    lastTag = tag;
    if (!measuring) return;
    inWindow++;
    if (sentNs > 0n) hist[bucketOf(Number(process.hrtime.bigint() - sentNs) / 1000)]!++;
  };
  if (c.prefetch > 0) {
    client.onChunkEnd = () => {
      if (lastTag > ackedTag) {
        client.ack(lastTag, true);
        ackedTag = lastTag;
      }
    };
    await client.rpc(M.encodeBasicQosFrame(1, { prefetchSize: 0, prefetchCount: c.prefetch, global: false }), 'basic.qos-ok');
  }
  await client.rpc(M.encodeBasicConsumeFrame(1, { ticket: 0, queue: c.queue, consumerTag: '', noLocal: false, noAck: c.prefetch === 0, exclusive: false, nowait: false, arguments: [] }), 'basic.consume-ok');
  await new Promise((r) => setTimeout(r, end - Date.now() + 200));
  clearInterval(timer);
  return { role: 'consumer', received, rate: Math.round(inWindow / c.seconds), hist };
}

const role = process.argv[2];
const cfg = JSON.parse(process.argv[3]!) as LoadConfig;
const client = await LeanClient.connect({ host: cfg.host, port: cfg.port });
const result = role === 'producer' ? await producer(cfg, client) : await consumer(cfg, client);
process.stdout.write(JSON.stringify(result) + '\n');
client.close();
process.exit(0);
