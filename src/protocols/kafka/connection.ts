// One Kafka client connection: frames in, responses out in request order. Requests start one after the
// other; a Produce does not hold up the start of the next request (its append is queued in order, so a
// client that pipelines large batches keeps the disk busy), any other request waits for everything before
// it to finish. Reading stops while the requests taken in but not yet answered exceed a byte budget.
// Malformed frames, unknown API keys or versions, and oversize requests close the connection (Kafka's
// behaviour); ApiVersions with a too-new version gets UNSUPPORTED_VERSION with the v0 body.
import type { Socket } from 'node:net';
import { largeBuffers } from '../../lib/buffer-pool.js';
import { childLogger } from '../../lib/logger.js';
import { encodeApiVersionsResponse, encodeSaslAuthenticateResponse, encodeSaslHandshakeResponse, type SaslAuthenticateRequest, type SaslAuthenticateResponse, type SaslHandshakeRequest } from './codec/generated/index.js';
import { SASL_MECHANISMS, saslMechanism, type SaslMechanism } from '../../core/auth/sasl.js';
import { readRequestHeader, responseFrame, splitFrames, API_VERSIONS_KEY } from './codec/frame.js';
import { KafkaDecodeError, KafkaReader } from './codec/reader.js';
import { dispatch, API_VERSIONS_MAX } from './dispatch.js';
import { KafkaError } from './errors.js';
import { PRODUCE_VERSION_ACCEPTED_MIN } from './handlers/produce.js';
import type { HandlerContext } from './handlers/context.js';
import type { Broker } from '../../core/broker.js';
import type { KafkaSettings } from './handlers/context.js';

const log = childLogger('kafka');
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;
/** Pause reading while this many response bytes wait to be written. */
const WRITE_BACKLOG_BYTES_MAX = 64 * 1024 * 1024;
/** Pause reading while this many request bytes are taken in but not yet answered (at least one request). */
const QUEUED_REQUEST_BYTES_MAX = 64 * 1024 * 1024;
const PRODUCE_KEY = 0;
/** Frames from this size up are received into a pooled buffer. */
const LARGE_FRAME_BYTES = 64 * 1024;
const NO_BYTES = Buffer.alloc(0);

type Response = Buffer[] | undefined;
/** Ends a response: the connection is closed once everything before it has been written. */
const END_MARK = Buffer.alloc(0);
const CLOSE: Response = [END_MARK];

function releaseAll(chunks: Buffer[]): void {
  for (const c of chunks) largeBuffers.release(c);
}

function isFlexible(apiKey: number, version: number): boolean {
  const e = dispatch.get(apiKey);
  return e !== undefined && version >= e.codec.flexibleFrom;
}

export class KafkaConnection {
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** A large frame being filled in place, and how much of it has arrived. */
  private large: Buffer | undefined;
  private largeFilled = 0;
  /** Bytes needed before the next frame can be split off. */
  private needBytes = 4;
  /** Resolves when the next request may start. */
  private startGate: Promise<void> = Promise.resolve();
  /** Resolves when every response so far has been written (or handed to the socket). */
  private sendTail: Promise<void> = Promise.resolve();
  private queuedRequestBytes = 0;
  private readHolds = 0;
  private heldForRequests = false;
  private closed = false;
  /** A request ended the connection: nothing after it starts; it closes once earlier answers are out. */
  private ending = false;
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
   * Splits the byte stream into request frames. Small frames are collected from the socket's chunks and
   * split off together; a large frame (a produce of big batches) is copied straight into a pooled buffer
   * of its size as its bytes arrive, so it is copied once and its memory is reused.
   */
  private onData(chunk: Buffer): void {
    let c = chunk;
    while (c.length > 0) {
      const large = this.large;
      if (large) {
        const n = Math.min(c.length, large.length - this.largeFilled);
        c.copy(large, this.largeFilled, 0, n);
        this.largeFilled += n;
        if (this.largeFilled < large.length) return;
        c = c.subarray(n);
        this.large = undefined;
        this.take(large, true);
        continue;
      }
      this.chunks.push(c);
      this.chunkBytes += c.length;
      c = NO_BYTES;
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
      for (const f of frames) this.take(f, false);
      this.chunks = [];
      this.chunkBytes = 0;
      this.needBytes = 4;
      if (rest.length >= 4 && rest.readInt32BE(0) >= LARGE_FRAME_BYTES) {
        this.large = largeBuffers.acquire(rest.readInt32BE(0));
        this.largeFilled = 0;
        c = rest.subarray(4);
      } else if (rest.length > 0) {
        this.chunks.push(rest);
        this.chunkBytes = rest.length;
        this.needBytes = rest.length >= 4 ? 4 + rest.readInt32BE(0) : 4;
      }
    }
  }

  /** Queues one request frame; `pooled` frames go back to the pool after a Produce has been answered. */
  private take(frame: Buffer, pooled: boolean): void {
    this.queuedRequestBytes += frame.length;
    if (!this.heldForRequests && this.queuedRequestBytes > QUEUED_REQUEST_BYTES_MAX) {
      this.heldForRequests = true;
      this.holdReading();
    }
    this.startGate = this.startGate.then(() => {
      if (this.closed || this.ending) return;
      const produce = !this.bareSasl && frame.length >= 2 && frame.readInt16BE(0) === PRODUCE_KEY;
      // A Produce starts at once (its appends queue behind the earlier ones); anything else runs alone:
      // after every earlier request has been answered, and before any later one starts.
      if (produce) {
        void this.start(frame, pooled, true);
        return;
      }
      return this.sendTail.then(() => (this.closed || this.ending ? undefined : this.start(frame, pooled, false)));
    });
  }

  /** Handles one request; its answer is written after every earlier one. Resolves once it is written. */
  private start(frame: Buffer, pooled: boolean, produce: boolean): Promise<void> {
    const response = this.bareSasl ? this.handleBareSasl(frame) : this.handle(frame);
    const sent = this.sendTail
      .then(() => response)
      .then(
        (chunks) => {
          // A Produce keeps no view of its request once answered (its batches are written); other
          // requests may (group metadata, for one), so only a Produce's frame is reused.
          if (pooled && produce) largeBuffers.release(frame);
          return this.respond(frame.length, chunks);
        },
        (err: unknown) => {
          log.error({ remote: this.ctx.clientHost, err: (err as Error).message }, 'request failed; closing connection');
          this.close();
        },
      );
    this.sendTail = sent;
    return sent;
  }

  private respond(requestBytes: number, chunks: Response): Promise<void> | void {
    this.queuedRequestBytes -= requestBytes;
    if (this.heldForRequests && this.queuedRequestBytes <= QUEUED_REQUEST_BYTES_MAX) {
      this.heldForRequests = false;
      this.releaseReading();
    }
    if (chunks) return this.send(chunks);
  }

  private holdReading(): void {
    if (this.readHolds++ === 0) this.socket.pause();
  }

  private releaseReading(): void {
    if (--this.readHolds === 0 && !this.closed) this.socket.resume();
  }

  /** Handles one request up to its first wait, synchronously; the promise holds the response frame. */
  private async handle(frame: Buffer): Promise<Response> {
    if (this.closed) return;
    const r = new KafkaReader(frame);
    let header;
    try {
      header = readRequestHeader(r, isFlexible);
    } catch {
      return this.endAfterAnswers();
    }
    this.ctx.clientId = header.clientId ?? '';
    const entry = dispatch.get(header.apiKey);
    if (header.apiKey === API_VERSIONS_KEY && header.apiVersion > API_VERSIONS_MAX) {
      // Answer with the v0 layout and our key list so the client retries lower.
      const body = entry!.handle(this.ctx, undefined as never, 0) as { errorCode: number };
      body.errorCode = KafkaError.UNSUPPORTED_VERSION;
      return responseFrame(header.correlationId, header.apiKey, false, (w) => encodeApiVersionsResponse(w, 0, body as never));
    }
    if (this.settings.saslRequired && !this.authenticated && header.apiKey !== API_VERSIONS_KEY && header.apiKey !== SASL_HANDSHAKE && header.apiKey !== SASL_AUTHENTICATE) {
      log.warn({ remote: this.ctx.clientHost, apiKey: header.apiKey }, 'request before authentication; closing connection');
      return this.endAfterAnswers();
    }
    if (!entry || header.apiVersion < entry.minVersion || header.apiVersion > entry.maxVersion) {
      log.warn({ remote: this.ctx.clientHost, apiKey: header.apiKey, version: header.apiVersion }, 'unsupported API or version; closing connection');
      return this.endAfterAnswers();
    }
    let req: unknown;
    try {
      req = entry.codec.decodeRequest(r, header.apiVersion);
    } catch (err) {
      if (!(err instanceof KafkaDecodeError)) throw err;
      log.warn({ remote: this.ctx.clientHost, apiKey: header.apiKey, err: err.message }, 'malformed request; closing connection');
      return this.endAfterAnswers();
    }
    if (header.apiKey === PRODUCE_KEY && header.apiVersion < PRODUCE_VERSION_ACCEPTED_MIN && (req as { acks: number }).acks === 0) {
      // Kafka answers an old Produce with UNSUPPORTED_VERSION, or closes when acks=0 allows no answer.
      log.warn({ remote: this.ctx.clientHost, version: header.apiVersion }, 'Produce version below 3 with acks=0; closing connection');
      return this.endAfterAnswers();
    }
    if (header.apiKey === SASL_HANDSHAKE) return this.saslHandshake(header.correlationId, header.apiVersion, req as SaslHandshakeRequest);
    if (header.apiKey === SASL_AUTHENTICATE) return this.saslAuthenticate(header.correlationId, header.apiVersion, req as SaslAuthenticateRequest);
    let res: unknown;
    try {
      res = await entry.handle(this.ctx, req as never, header.apiVersion);
    } catch (err) {
      // A long poll still waiting when the broker shuts down finds its stream closed: nothing to report.
      if (this.closed) return undefined;
      log.error({ apiKey: header.apiKey, err: (err as Error).message }, 'handler failed; closing connection');
      return this.endAfterAnswers();
    }
    // Produce with acks=0 gets no response at all.
    if (header.apiKey === 0 && (req as { acks: number }).acks === 0) return;
    const flexible = header.apiVersion >= entry.codec.flexibleFrom;
    return responseFrame(header.correlationId, header.apiKey, flexible, (w) => entry.codec.encodeResponse(w, header.apiVersion, res as never));
  }

  /** Decided synchronously while a request is taken in, so that no pipelined request after it starts. */
  private endAfterAnswers(): Response {
    this.ending = true;
    return CLOSE;
  }

  private saslHandshake(correlationId: number, version: number, req: SaslHandshakeRequest): Response {
    const mech = saslMechanism(req.mechanism, this.ctx.broker.users, this.loopback);
    this.sasl = mech;
    const body = { errorCode: mech ? KafkaError.NONE : KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...SASL_MECHANISMS] };
    if (mech && version === 0) this.bareSasl = true;
    return responseFrame(correlationId, SASL_HANDSHAKE, false, (w) => encodeSaslHandshakeResponse(w, version, body));
  }

  private saslAuthenticate(correlationId: number, version: number, req: SaslAuthenticateRequest): Response {
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
    const out = responseFrame(correlationId, SASL_AUTHENTICATE, version >= 2, (w) => encodeSaslAuthenticateResponse(w, version, res));
    if (fail) {
      // Answer, then close: nothing after a failed authentication is read.
      this.ending = true;
      out.push(END_MARK);
    }
    return out;
  }

  /** A bare SASL token (after SaslHandshake v0): reply bare; a failure closes the connection. */
  private async handleBareSasl(token: Buffer): Promise<Response> {
    try {
      const step = this.sasl!.step(token);
      const size = Buffer.alloc(4);
      size.writeInt32BE(step.response.length);
      if (step.user) {
        this.authenticated = true;
        this.bareSasl = false;
      }
      return [size, step.response];
    } catch (err) {
      log.warn({ remote: this.ctx.clientHost, err: (err as Error).message }, 'SASL authentication failed');
      this.close();
      return undefined;
    }
  }

  private send(chunks: Buffer[]): Promise<void> | void {
    if (this.closed) return;
    this.socket.cork();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.socket.write(chunks[i]!);
    // Log reads come from the large-buffer pool; they go back once the socket has taken the bytes.
    if (chunks[last] !== END_MARK) this.socket.write(chunks[last]!, () => releaseAll(chunks));
    this.socket.uncork();
    if (chunks[chunks.length - 1] === END_MARK) {
      this.closed = true;
      this.socket.destroySoon();
      return;
    }
    if (this.socket.writableLength > WRITE_BACKLOG_BYTES_MAX) {
      this.holdReading();
      return new Promise((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          this.releaseReading();
          resolve();
        };
        this.socket.once('drain', done);
        this.socket.once('close', done);
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}
