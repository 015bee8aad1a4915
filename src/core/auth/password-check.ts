// Clear-text password checks (SASL PLAIN, AMQP PLAIN / AMQPLAIN) without stalling the broker. Deriving the
// SCRAM keys from a password is PBKDF2 (4,096 iterations of HMAC-SHA-256 by default, ~4 ms): run on the
// event loop, a reconnect storm of 1,000 clients would stop all traffic for seconds. So:
//  - derivations run on libuv's threadpool (crypto.pbkdf2), at most PASSWORD_DERIVATIONS_IN_FLIGHT_MAX at a
//    time (the threadpool also serves file I/O: a storm must not starve fsyncs);
//  - concurrent checks of the same credentials share one derivation;
//  - successful checks are remembered in a bounded cache (VERIFIED_CREDENTIALS_MAX entries), keyed by an
//    HMAC (per-process random key) of user name and password and valid only while the user's stored
//    credentials are the same object: any change of the user (new password, deletion) invalidates it.
// Failures are never cached.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredentials } from './user-store.js';

/** Successful password checks remembered (least recently used dropped first). */
export const VERIFIED_CREDENTIALS_MAX = 10_000;
/** PBKDF2 derivations running on the threadpool at once; more wait their turn. */
export const PASSWORD_DERIVATIONS_IN_FLIGHT_MAX = 2;

/** Counters (tests, diagnostics). */
export const passwordCheckStats = { derivations: 0, cacheHits: 0, shared: 0 };

const cacheKeySecret = randomBytes(32);

/** The SCRAM StoredKey of a password, derived on the threadpool. */
function storedKeyOf(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    passwordCheckStats.derivations++;
    pbkdf2(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256', (err, salted) => {
      if (err) return reject(err);
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      resolve(createHash('sha256').update(clientKey).digest());
    });
  });
}

interface Verified {
  user: string;
  /** The credentials object the password was checked against (identity: a changed user has a new one). */
  scram: ScramCredentials;
}

export class PasswordChecker {
  private readonly verified = new Map<string, Verified>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly maxEntries = VERIFIED_CREDENTIALS_MAX) {}

  private key(user: string, password: string): string {
    return createHmac('sha256', cacheKeySecret).update(user).update('\u0000').update(password).digest('base64');
  }

  /** Whether `password` is `user`'s (scram: the user's current credentials; undefined: no such user). */
  async check(user: string, password: string, scram: ScramCredentials | undefined): Promise<boolean> {
    const key = this.key(user, password);
    if (scram !== undefined) {
      const hit = this.verified.get(key);
      if (hit !== undefined && hit.scram === scram && hit.user === user) {
        passwordCheckStats.cacheHits++;
        this.verified.delete(key);
        this.verified.set(key, hit); // most recently used last
        return true;
      }
    }
    const shared = this.inFlight.get(key);
    if (shared !== undefined && scram !== undefined) {
      passwordCheckStats.shared++;
      return shared;
    }
    const p = this.derive(key, user, password, scram);
    if (scram !== undefined) {
      this.inFlight.set(key, p);
      void p.finally(() => this.inFlight.delete(key)).catch(() => undefined);
    }
    return p;
  }

  private async derive(key: string, user: string, password: string, scram: ScramCredentials | undefined): Promise<boolean> {
    await this.slot();
    try {
      // The same work whether or not the user exists.
      const stored = await storedKeyOf(password, scram?.salt ?? ZERO_SALT, scram?.iterations ?? 4096);
      if (scram === undefined || !timingSafeEqual(stored, scram.storedKey)) return false;
      this.remember(key, { user, scram });
      return true;
    } finally {
      this.release();
    }
  }

  /** Synchronous callers: whether this password was verified for these credentials (a cache hit). */
  cached(user: string, password: string, scram: ScramCredentials): boolean {
    const hit = this.verified.get(this.key(user, password));
    if (hit === undefined || hit.scram !== scram || hit.user !== user) return false;
    passwordCheckStats.cacheHits++;
    return true;
  }

  /** Synchronous callers: remembers a check they made themselves. */
  verifiedNow(user: string, password: string, scram: ScramCredentials): void {
    this.remember(this.key(user, password), { user, scram });
  }

  private remember(key: string, v: Verified): void {
    this.verified.delete(key);
    this.verified.set(key, v);
    if (this.verified.size > this.maxEntries) this.verified.delete(this.verified.keys().next().value!);
  }

  /** Forgets every remembered check of `user` (its credentials changed or it was deleted). */
  forget(user: string): void {
    for (const [k, v] of this.verified) if (v.user === user) this.verified.delete(k);
  }

  get size(): number {
    return this.verified.size;
  }

  private slot(): Promise<void> {
    if (this.running < PASSWORD_DERIVATIONS_IN_FLIGHT_MAX) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.running--;
  }
}

const ZERO_SALT = Buffer.alloc(16);
