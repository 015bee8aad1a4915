// One Kafka client connection: frames in, requests handled strictly in order, responses out in order.
// Malformed frames, unknown API keys or versions, and oversize requests close the connection (Kafka's
// behaviour); ApiVersions with a too-new version gets UNSUPPORTED_VERSION with the v0 body.
import type { Socket } from 'node:net';
import { childLogger } from '../../lib/logger.js';
import { encodeApiVersionsResponse, encodeSaslAuthenticateResponse, encodeSaslHandshakeResponse, type SaslAuthenticateRequest, type SaslAuthenticateResponse, type SaslHandshakeRequest } from './codec/generated/index.js';
import { SASL_MECHANISMS, saslMechanism, type SaslMechanism } from '../../core/auth/sasl.js';
import { readRequestHeader, responseFrame, splitFrames, API_VERSIONS_KEY } from './codec/frame.js';
import { KafkaDecodeError, KafkaReader } from './codec/reader.js';
import { dispatch, API_VERSIONS_MAX } from './dispatch.js';
import { KafkaError } from './errors.js';
import type { HandlerContext } from './handlers/context.js';
import type { Broker } from '../../core/broker.js';
import type { KafkaSettings } from './handlers/context.js';

const log = childLogger('kafka');
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;
/** Pause reading while this many response bytes wait to be written. */
const WRITE_BACKLOG_BYTES_MAX = 64 * 1024 * 1024;

function isFlexible(apiKey: number, version: number): boolean {
  const e = dispatch.get(apiKey);
  return e !== undefined && version >= e.codec.flexibleFrom;
}

export class KafkaConnection {
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** Bytes needed before the next frame can be split off. */
  private needBytes = 4;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly ctx: HandlerContext;
  private sasl: SaslMechanism | undefined;
  /** After SaslHandshake v0, SASL tokens travel as bare length-prefixed frames. */
  private bareSasl = false;
  private authenticated = false;
  private readonly loopback: boolean;

  constructor(
    private readonly socket: Socket,
    broker: Broker,
    private readonly settings: KafkaSettings,
  ) {
    socket.setNoDelay(true);
    const addr = socket.remoteAddress ?? '';
    this.loopback = addr === '127.0.0.1' || addr === '::1' || addr.startsWith('::ffff:127.');
    this.ctx = { broker, settings, clientId: '', clientHost: `/${socket.remoteAddress ?? ''}` };
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => (this.closed = true));
  }

  /**
   * Collects chunks until a whole frame is there (its size is known from the 4-byte prefix), so a large
   * request arriving in many TCP reads is copied once, not once per read.
   */
  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    if (this.chunkBytes < this.needBytes) return;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.chunkBytes);
    let frames: Buffer[];
    let rest: Buffer;
    try {
      ({ frames, rest } = splitFrames(buf, this.settings.requestBytesMax));
    } catch (err) {
      log.warn({ remote: this.ctx.clientHost, err: (err as Error).message }, 'bad frame; closing connection');
      return this.close();
    }
    this.chunks = rest.length > 0 ? [rest] : [];
    this.chunkBytes = rest.length;
    this.needBytes = rest.length >= 4 ? 4 + rest.readInt32BE(0) : 4;
    for (const f of frames) this.chain = this.chain.then(() => (this.bareSasl ? this.handleBareSasl(f) : this.handle(f)));
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.closed) return;
    const r = new KafkaReader(frame);
    let header;
    try {
      header = readRequestHeader(r, isFlexible);
    } catch {
      return this.close();
    }
    this.ctx.clientId = header.clientId ?? '';
    const entry = dispatch.get(header.apiKey);
    if (header.apiKey === API_VERSIONS_KEY && header.apiVersion > API_VERSIONS_MAX) {
      // Answer with the v0 layout and our key list so the client retries lower.
      const body = entry!.handle(this.ctx, undefined as never, 0) as { errorCode: number };
      body.errorCode = KafkaError.UNSUPPORTED_VERSION;
      return this.send(responseFrame(header.correlationId, header.apiKey, false, (w) => encodeApiVersionsResponse(w, 0, body as never)));
    }
    if (this.settings.saslRequired && !this.authenticated && header.apiKey !== API_VERSIONS_KEY && header.apiKey !== SASL_HANDSHAKE && header.apiKey !== SASL_AUTHENTICATE) {
      log.warn({ remote: this.ctx.clientHost, apiKey: header.apiKey }, 'request before authentication; closing connection');
      return this.close();
    }
    if (!entry || header.apiVersion < entry.minVersion || header.apiVersion > entry.maxVersion) {
      log.warn({ remote: this.ctx.clientHost, apiKey: header.apiKey, version: header.apiVersion }, 'unsupported API or version; closing connection');
      return this.close();
    }
    let req: unknown;
    try {
      req = entry.codec.decodeRequest(r, header.apiVersion);
    } catch (err) {
      if (!(err instanceof KafkaDecodeError)) throw err;
      log.warn({ remote: this.ctx.clientHost, apiKey: header.apiKey, err: err.message }, 'malformed request; closing connection');
      return this.close();
    }
    if (header.apiKey === SASL_HANDSHAKE) return this.saslHandshake(header.correlationId, header.apiVersion, req as SaslHandshakeRequest);
    if (header.apiKey === SASL_AUTHENTICATE) return this.saslAuthenticate(header.correlationId, header.apiVersion, req as SaslAuthenticateRequest);
    let res: unknown;
    try {
      res = await entry.handle(this.ctx, req as never, header.apiVersion);
    } catch (err) {
      log.error({ apiKey: header.apiKey, err: (err as Error).message }, 'handler failed; closing connection');
      return this.close();
    }
    // Produce with acks=0 gets no response at all.
    if (header.apiKey === 0 && (req as { acks: number }).acks === 0) return;
    const flexible = header.apiVersion >= entry.codec.flexibleFrom;
    this.send(responseFrame(header.correlationId, header.apiKey, flexible, (w) => entry.codec.encodeResponse(w, header.apiVersion, res as never)));
  }

  private saslHandshake(correlationId: number, version: number, req: SaslHandshakeRequest): void {
    const mech = saslMechanism(req.mechanism, this.ctx.broker.users, this.loopback);
    this.sasl = mech;
    const body = { errorCode: mech ? KafkaError.NONE : KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...SASL_MECHANISMS] };
    this.send(responseFrame(correlationId, SASL_HANDSHAKE, false, (w) => encodeSaslHandshakeResponse(w, version, body)));
    if (mech && version === 0) this.bareSasl = true;
  }

  private saslAuthenticate(correlationId: number, version: number, req: SaslAuthenticateRequest): void {
    const res: SaslAuthenticateResponse = { errorCode: 0, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
    let fail = false;
    if (!this.sasl) {
      res.errorCode = KafkaError.ILLEGAL_SASL_STATE;
      res.errorMessage = 'SaslAuthenticate before SaslHandshake';
      fail = true;
    } else {
      try {
        const step = this.sasl.step(req.authBytes);
        res.authBytes = step.response;
        if (step.user) this.authenticated = true;
      } catch (err) {
        res.errorCode = KafkaError.SASL_AUTHENTICATION_FAILED;
        res.errorMessage = (err as Error).message;
        fail = true;
      }
    }
    this.send(responseFrame(correlationId, SASL_AUTHENTICATE, version >= 2, (w) => encodeSaslAuthenticateResponse(w, version, res)));
    if (fail) this.socket.end();
  }

  /** A bare SASL token (after SaslHandshake v0): reply bare; a failure closes the connection. */
  private handleBareSasl(token: Buffer): void {
    try {
      const step = this.sasl!.step(token);
      const size = Buffer.alloc(4);
      size.writeInt32BE(step.response.length);
      this.send([size, step.response]);
      if (step.user) {
        this.authenticated = true;
        this.bareSasl = false;
      }
    } catch (err) {
      log.warn({ remote: this.ctx.clientHost, err: (err as Error).message }, 'SASL authentication failed');
      this.close();
    }
  }

  private send(chunks: Buffer[]): Promise<void> | void {
    if (this.closed) return;
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
    if (this.socket.writableLength > WRITE_BACKLOG_BYTES_MAX) {
      this.socket.pause();
      return new Promise((resolve) =>
        this.socket.once('drain', () => {
          this.socket.resume();
          resolve();
        }),
      );
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}
