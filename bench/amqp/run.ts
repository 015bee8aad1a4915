// AMQP side-by-side benchmark (docs/benchmarks.md): the same lean load generator (bench/amqp/loadgen.ts, one
// process per producer and per consumer) against each target broker, then against a null sink to show the
// generator's own ceiling. Usage:
//   node dist/bench/amqp/run.js --target junction=127.0.0.1:5673 --target rabbitmq=127.0.0.1:5672 [--seconds 8]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as M from '../../src/protocols/amqp/codec/generated/methods.js';
import { LeanClient } from './lean-client.js';
import { BUCKETS, bucketValue } from './histogram.js';
import type { LoadConfig } from './loadgen.js';
import { startNullSink } from './null-sink.js';

const loadgen = join(dirname(fileURLToPath(import.meta.url)), 'loadgen.js');

interface Scenario {
  name: string;
  persistent: boolean;
  size: number;
  clients: number;
}

const args = process.argv.slice(2);
const targets: Array<{ name: string; host: string; port: number }> = [];
let seconds = 8;
let only: string | undefined;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--target') {
    const [name, hp] = args[++i]!.split('=');
    const [host, port] = hp!.split(':');
    targets.push({ name: name!, host: host!, port: Number(port) });
  } else if (args[i] === '--seconds') seconds = Number(args[++i]);
  else if (args[i] === '--only') only = args[++i];
}

const scenarios: Scenario[] = [];
for (const persistent of [false, true]) for (const size of [100, 1024]) for (const clients of [1, 4]) {
  scenarios.push({ name: `${persistent ? 'persistent, confirms, manual ack' : 'transient, auto-ack'} ${size} B ${clients}x${clients}`, persistent, size, clients });
}

function runProc(role: string, cfg: LoadConfig): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [loadgen, role, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    // 'close', not 'exit': stdout may still hold the result line when the process has exited.
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as Record<string, unknown>) : reject(new Error(`${role} exited ${code}`))));
  });
}

function percentile(hist: number[], q: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < BUCKETS; i++) {
    acc += hist[i]!;
    if (acc >= total * q) return bucketValue(i);
  }
  return NaN;
}

async function runScenario(t: { host: string; port: number }, s: Scenario, withConsumers: boolean): Promise<{ sent: number; received: number; p50: number; p99: number }> {
  const queue = `bench-${s.persistent ? 'p' : 't'}-${s.size}-${s.clients}-${Date.now()}`;
  const admin = await LeanClient.connect(t);
  await admin.rpc(M.encodeQueueDeclareFrame(1, { ticket: 0, queue, passive: false, durable: s.persistent, exclusive: false, autoDelete: false, nowait: false, arguments: [] }), 'queue.declare-ok');
  const base: LoadConfig = { host: t.host, port: t.port, queue, size: s.size, persistent: s.persistent, confirmWindow: s.persistent ? 2000 : 0, prefetch: s.persistent ? 1000 : 0, warmupS: 2, seconds, batch: s.persistent ? 200 : 100 };
  const consumers = withConsumers ? Array.from({ length: s.clients }, () => runProc('consumer', base)) : [];
  await new Promise((r) => setTimeout(r, 300));
  const producers = Array.from({ length: s.clients }, () => runProc('producer', { ...base, warmupS: base.warmupS - 0.3 }));
  const prod = await Promise.all(producers);
  const cons = await Promise.all(consumers);
  if (withConsumers) await admin.rpc(M.encodeQueueDeleteFrame(1, { ticket: 0, queue, ifUnused: false, ifEmpty: false, nowait: false }), 'queue.delete-ok');
  admin.close();
  const hist = new Array<number>(BUCKETS).fill(0);
  for (const c of cons) (c['hist'] as number[]).forEach((v, i) => (hist[i]! += v));
  return {
    sent: prod.reduce((a, p) => a + (p['rate'] as number), 0),
    received: cons.reduce((a, c) => a + (c['rate'] as number), 0),
    p50: percentile(hist, 0.5),
    p99: percentile(hist, 0.99),
  };
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '-');

console.log(`| target | scenario | sent msg/s | received msg/s | p50 ms | p99 ms |`);
console.log(`|---|---|---:|---:|---:|---:|`);
const sink = await startNullSink();
for (const s of scenarios) {
  if (only && !s.name.includes(only)) continue;
  for (const t of targets) {
    const r = await runScenario(t, s, true);
    console.log(`| ${t.name} | ${s.name} | ${fmt(r.sent)} | ${fmt(r.received)} | ${ms(r.p50)} | ${ms(r.p99)} |`);
  }
  const n = await runScenario({ host: '127.0.0.1', port: sink.port }, s, false);
  console.log(`| null sink (generator ceiling) | ${s.name} | ${fmt(n.sent)} | - | - | - |`);
}
sink.close();
