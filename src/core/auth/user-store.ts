// Users, credentials and vhost permissions, protocol-neutral. Credentials are kept as SCRAM-SHA-256 keys
// (RFC 5802/7677: salt, iterations, StoredKey, ServerKey) so that one record serves SASL PLAIN, AMQP PLAIN /
// AMQPLAIN (verify by deriving the keys from the password) and Kafka SCRAM-SHA-256 (the keys themselves).
// Passwords are never stored.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { MetaRecord, MetaStore } from '../../storage/meta/meta-store.js';
import { PasswordChecker } from './password-check.js';

export const SCRAM_ITERATIONS_DEFAULT = 4096;
const NAME_BYTES_MAX = 255;

export interface ScramCredentials {
  mechanism: 'SCRAM-SHA-256';
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface Permission {
  /** Regular expressions over resource names, as RabbitMQ's configure / write / read. */
  configure: string;
  write: string;
  read: string;
}

export interface User {
  name: string;
  tags: string[];
  /** Only connections from loopback may log in (RabbitMQ's loopback_users, default for guest). */
  loopbackOnly: boolean;
  scram: ScramCredentials;
}

export function deriveScram(password: string, salt: Buffer, iterations: number): ScramCredentials {
  const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return { mechanism: 'SCRAM-SHA-256', salt, iterations, storedKey, serverKey };
}

const userKey = (name: string) => name;
const permissionKey = (user: string, vhost: string) => `${user}\u0000${vhost}`;

function userRecord(u: User): MetaRecord {
  return {
    kind: 'user',
    key: userKey(u.name),
    value: {
      name: u.name,
      tags: u.tags,
      loopbackOnly: u.loopbackOnly,
      scram: { mechanism: u.scram.mechanism, salt: u.scram.salt.toString('base64'), iterations: u.scram.iterations, storedKey: u.scram.storedKey.toString('base64'), serverKey: u.scram.serverKey.toString('base64') },
    },
  };
}

function userFromRecord(r: MetaRecord): User {
  const v = r.value as { name: string; tags: string[]; loopbackOnly: boolean; scram: { salt: string; iterations: number; storedKey: string; serverKey: string } };
  return {
    name: v.name,
    tags: v.tags,
    loopbackOnly: v.loopbackOnly,
    scram: { mechanism: 'SCRAM-SHA-256', salt: Buffer.from(v.scram.salt, 'base64'), iterations: v.scram.iterations, storedKey: Buffer.from(v.scram.storedKey, 'base64'), serverKey: Buffer.from(v.scram.serverKey, 'base64') },
  };
}

export class UserStore {
  private readonly users = new Map<string, User>();
  private readonly permissions = new Map<string, Permission>();
  /** Async, cached password checks (password-check.ts). */
  private readonly passwords = new PasswordChecker();

  constructor(private readonly meta: MetaStore) {
    for (const r of meta.list('user')) {
      const u = userFromRecord(r);
      this.users.set(u.name, u);
    }
    for (const r of meta.list('permission')) {
      const v = r.value as unknown as Permission & { user: string; vhost: string };
      this.permissions.set(permissionKey(v.user, v.vhost), { configure: v.configure, write: v.write, read: v.read });
    }
  }

  get(name: string): User | undefined {
    return this.users.get(name);
  }

  list(): User[] {
    return [...this.users.values()];
  }

  async put(name: string, password: string, opts: { tags?: string[]; loopbackOnly?: boolean; iterations?: number } = {}): Promise<User> {
    if (name.length === 0 || Buffer.byteLength(name) > NAME_BYTES_MAX) throw new BrokerError(ErrorCode.InvalidArgument, `user name must be 1..${NAME_BYTES_MAX} bytes`);
    const user: User = {
      name,
      tags: opts.tags ?? [],
      loopbackOnly: opts.loopbackOnly ?? false,
      scram: deriveScram(password, randomBytes(16), opts.iterations ?? SCRAM_ITERATIONS_DEFAULT),
    };
    await this.meta.put(userRecord(user));
    this.users.set(name, user);
    this.passwords.forget(name);
    return user;
  }

  async delete(name: string): Promise<void> {
    if (!this.users.has(name)) throw new BrokerError(ErrorCode.NotFound, `no user '${name}'`);
    const ops: Array<{ op: 'delete'; kind: 'user' | 'permission'; key: string }> = [{ op: 'delete', kind: 'user', key: userKey(name) }];
    for (const k of this.permissions.keys()) if (k.startsWith(name + '\u0000')) ops.push({ op: 'delete', kind: 'permission', key: k });
    await this.meta.apply(ops);
    this.users.delete(name);
    this.passwords.forget(name);
    for (const o of ops) if (o.kind === 'permission') this.permissions.delete(o.key);
  }

  /**
   * Checks a clear-text password (SASL PLAIN, AMQP PLAIN / AMQPLAIN) off the event loop: PBKDF2 runs on the
   * threadpool and successful checks are cached until the user changes (password-check.ts).
   * `remoteIsLoopback` enforces loopbackOnly.
   */
  async verifyPlain(name: string, password: string, remoteIsLoopback: boolean): Promise<User> {
    const user = this.users.get(name);
    if (!(await this.passwords.check(name, password, user?.scram))) throw new BrokerError(ErrorCode.AccessRefused, `user '${name}' - invalid credentials`);
    // The user may have changed while the check ran: only the credentials checked count.
    if (user === undefined || this.users.get(name) !== user) throw new BrokerError(ErrorCode.AccessRefused, `user '${name}' - invalid credentials`);
    if (user.loopbackOnly && !remoteIsLoopback) throw new BrokerError(ErrorCode.AccessRefused, `user '${name}' can only connect via localhost`);
    return user;
  }

  /** The same check on the event loop (synchronous callers); prefer verifyPlain. */
  authenticatePlain(name: string, password: string, remoteIsLoopback: boolean): User {
    const user = this.users.get(name);
    const refused = () => new BrokerError(ErrorCode.AccessRefused, `user '${name}' - invalid credentials`);
    if (!user) {
      deriveScram(password, Buffer.alloc(16), SCRAM_ITERATIONS_DEFAULT); // same work whether or not the user exists
      throw refused();
    }
    if (!this.passwords.cached(name, password, user.scram)) {
      const derived = deriveScram(password, user.scram.salt, user.scram.iterations);
      if (!timingSafeEqual(derived.storedKey, user.scram.storedKey)) throw refused();
      this.passwords.verifiedNow(name, password, user.scram);
    }
    if (user.loopbackOnly && !remoteIsLoopback) throw new BrokerError(ErrorCode.AccessRefused, `user '${name}' can only connect via localhost`);
    return user;
  }

  async setPermission(user: string, vhost: string, p: Permission): Promise<void> {
    if (!this.users.has(user)) throw new BrokerError(ErrorCode.NotFound, `no user '${user}'`);
    for (const re of [p.configure, p.write, p.read]) {
      try {
        new RegExp(re);
      } catch {
        throw new BrokerError(ErrorCode.InvalidArgument, `invalid permission pattern '${re}'`);
      }
    }
    await this.meta.put({ kind: 'permission', key: permissionKey(user, vhost), value: { user, vhost, ...p } });
    this.permissions.set(permissionKey(user, vhost), p);
  }

  permission(user: string, vhost: string): Permission | undefined {
    return this.permissions.get(permissionKey(user, vhost));
  }

  /** Whether `user` may access `vhost` at all (has any permission entry there). */
  canAccessVhost(user: string, vhost: string): boolean {
    return this.permissions.has(permissionKey(user, vhost));
  }

  /** RabbitMQ's rule: an unanchored regex search over the resource name; '' grants nothing. */
  isAllowed(user: string, vhost: string, kind: keyof Permission, resource: string): boolean {
    const p = this.permissions.get(permissionKey(user, vhost));
    if (!p) return false;
    const re = p[kind];
    return re.length > 0 && new RegExp(re).test(resource);
  }
}
