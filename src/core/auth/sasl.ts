// SASL server mechanisms over the UserStore: PLAIN (RFC 4616) and SCRAM-SHA-256 (RFC 5802 / 7677).
// Protocol-neutral: a protocol feeds client tokens in and sends the returned server tokens out.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BrokerError, ErrorCode } from '../../lib/errors.js';
import type { User, UserStore } from './user-store.js';

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

export interface SaslStep {
  /** Token to send to the client (may be empty). */
  response: Buffer;
  /** Set once authentication succeeded. */
  user?: User;
}

export interface SaslMechanism {
  step(token: Buffer): SaslStep;
}

const refused = (why: string) => new BrokerError(ErrorCode.AccessRefused, `Authentication failed: ${why}`);

class Plain implements SaslMechanism {
  constructor(
    private readonly users: UserStore,
    private readonly loopback: boolean,
  ) {}
  step(token: Buffer): SaslStep {
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) throw refused('malformed PLAIN token');
    const [, user, password] = parts as [string, string, string];
    return { response: Buffer.alloc(0), user: this.users.authenticatePlain(user, password, this.loopback) };
  }
}

function parseAttrs(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i === 1) m.set(part[0]!, part.slice(2));
  }
  return m;
}

class ScramSha256 implements SaslMechanism {
  private state: 'first' | 'final' | 'done' = 'first';
  private user: User | undefined;
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(
    private readonly users: UserStore,
    private readonly loopback: boolean,
  ) {}

  step(token: Buffer): SaslStep {
    const msg = token.toString('utf8');
    if (this.state === 'first') {
      // gs2 header: "n,," or "y,," (no channel binding), then the bare message.
      const m = /^[ny],(?:a=[^,]*)?,(.*)$/.exec(msg);
      if (!m) throw refused('malformed SCRAM client-first message');
      this.clientFirstBare = m[1]!;
      const a = parseAttrs(this.clientFirstBare);
      const name = (a.get('n') ?? '').replace(/=2C/g, ',').replace(/=3D/g, '=');
      const cnonce = a.get('r');
      if (!cnonce) throw refused('missing client nonce');
      this.user = this.users.get(name);
      if (!this.user) throw refused(`unknown user '${name}'`);
      this.nonce = cnonce + randomBytes(18).toString('base64');
      this.serverFirst = `r=${this.nonce},s=${this.user.scram.salt.toString('base64')},i=${this.user.scram.iterations}`;
      this.state = 'final';
      return { response: Buffer.from(this.serverFirst) };
    }
    if (this.state === 'final') {
      this.state = 'done';
      const i = msg.lastIndexOf(',p=');
      if (i < 0) throw refused('malformed SCRAM client-final message');
      const withoutProof = msg.slice(0, i);
      const a = parseAttrs(msg);
      if (a.get('r') !== this.nonce) throw refused('nonce mismatch');
      const proof = Buffer.from(a.get('p') ?? '', 'base64');
      const user = this.user!;
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
      const clientSignature = createHmac('sha256', user.scram.storedKey).update(authMessage).digest();
      if (proof.length !== clientSignature.length) throw refused('bad proof');
      const clientKey = Buffer.alloc(proof.length);
      for (let k = 0; k < proof.length; k++) clientKey[k] = proof[k]! ^ clientSignature[k]!;
      if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), user.scram.storedKey)) throw refused('invalid credentials');
      if (user.loopbackOnly && !this.loopback) throw new BrokerError(ErrorCode.AccessRefused, `user '${user.name}' can only connect via localhost`);
      const serverSignature = createHmac('sha256', user.scram.serverKey).update(authMessage).digest('base64');
      return { response: Buffer.from(`v=${serverSignature}`), user };
    }
    throw refused('authentication already finished');
  }
}

export function saslMechanism(name: string, users: UserStore, remoteIsLoopback: boolean): SaslMechanism | undefined {
  if (name === 'PLAIN') return new Plain(users, remoteIsLoopback);
  if (name === 'SCRAM-SHA-256') return new ScramSha256(users, remoteIsLoopback);
  return undefined;
}
