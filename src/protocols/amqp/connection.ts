// One AMQP 0-9-1 connection (README §1–§3, §6): protocol header, handshake (PLAIN, AMQPLAIN), tune,
// heartbeats, the channel table, content assembly and error handling. Frames are demultiplexed as they
// arrive; the commands of all channels are then handled strictly in order by one pump, which lets a burst of
// basic.publish frames become one append per queue.
import type { Socket } from 'node:net';
import type { Broker } from '../../core/broker.js';
import type { FieldTable } from '../../core/message.js';
import { BrokerError } from '../../lib/errors.js';
import { childLogger } from '../../lib/logger.js';
import { decodeContentHeader } from './codec/content-header.js';
import { InPlace, bodyInPlace, contentHeaderInPlace, publishMethodInPlace } from './publish-in-place.js';
import { AmqpDecodeError } from './codec/decode-error.js';
import { AmqpFrameParser, HEARTBEAT_FRAME, PROTOCOL_HEADER, ViewResult, newFrameView, type AmqpFrame, type AmqpFrameView } from './codec/frame.js';
import { FrameType, ReplyCode } from './codec/generated/constants.js';
import {
  decodeMethod,
  encodeConnectionBlockedFrame,
  encodeConnectionCloseFrame,
  encodeConnectionCloseOkFrame,
  encodeConnectionOpenOkFrame,
  encodeConnectionTuneFrame,
  encodeConnectionUnblockedFrame,
  encodeConnectionUpdateSecretOkFrame,
  methodHasContent,
  type AmqpMethod,
} from './codec/generated/methods.js';
import { AmqpChannel } from './channel.js';
import { CommandQueue, isSettlement, type Command } from './command-queue.js';
import { capabilitiesOf, credentialsOf, encodeStart } from './connection-start.js';
import type { ContentAssembly, PendingContent } from './pending-content.js';
import { FrameBatch } from './frame-batch.js';
import { AmqpError, amqpErrorOf, notAllowed } from './errors.js';
import type { AmqpContext } from './context.js';

const log = childLogger('amqp');

type State = 'header' | 'start-ok' | 'tune-ok' | 'open' | 'opened' | 'closing' | 'closed';

let connectionSeq = 0;

export class AmqpConnection {
  readonly id: string;
  readonly remote: string;
  readonly loopback: boolean;
  private readonly parser: AmqpFrameParser;
  private state: State = 'header';
  private readonly channels = new Map<number, AmqpChannel>();
  private readonly view: AmqpFrameView = newFrameView();
  /** Publishes were staged on channels directly (no pump running): flush them after this read. */
  private staged = false;
  /** Commands waiting for the pump (bounded: reading stops at queuedCommandsMax). */
  readonly work = new CommandQueue();
  /** Body bytes of publishes still being assembled on all channels (bounded: incompleteContentBytesMax). */
  readonly contentAssembly: ContentAssembly = { bytes: 0 };
  private pumping = false;
  private corked = false;
  private readonly out = new FrameBatch();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private received = false;
  private sent = false;
  private silentTicks = 0;
  private paused = false;
  /** A password check runs (off the event loop): later frames wait in the parser. */
  private authenticating = false;
  /** Flow holds: queues this connection published to that cannot keep up (credit flow). */
  private flowHolds = 0;
  /** Publishes handed to the core and not yet settled (bytes), for back-pressure. */
  unsettledBytes = 0;
  user = '';
  vhost = '/';
  channelMax: number;
  frameMax: number;
  heartbeatSec = 0;
  clientCapabilities = new Set<string>();
  clientProperties: FieldTable = [];
  /** Held by a resource alarm (not read until it clears). */
  blocked = false;
  private notifiedBlocked = false;

  constructor(
    readonly socket: Socket,
    readonly ctx: AmqpContext,
  ) {
    this.id = `amqp-${++connectionSeq}-${socket.remotePort ?? 0}`;
    this.remote = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    const addr = socket.remoteAddress ?? '';
    this.loopback = addr === '127.0.0.1' || addr === '::1' || addr.startsWith('::ffff:127.');
    this.channelMax = ctx.settings.channelMax;
    this.frameMax = ctx.settings.frameMax;
    this.parser = new AmqpFrameParser({ expectProtocolHeader: true });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.onClosed());
    socket.on('drain', () => {
      for (const ch of this.channels.values()) ch.onWritable();
    });
    this.handshakeTimer = setTimeout(() => {
      log.info({ remote: this.remote }, 'handshake timeout; closing connection');
      this.destroy();
    }, ctx.settings.handshakeTimeoutMs);
  }

  get broker(): Broker {
    return this.ctx.broker;
  }

  /** Commands waiting for the pump now, and the most at once (diagnostics, tests). */
  get queuedCommands(): number {
    return this.work.length;
  }

  get queuedCommandsPeak(): number {
    return this.work.peak;
  }

  get queuedCommandBytesPeak(): number {
    return this.work.peakBytes;
  }

  // ---- output ---------------------------------------------------------------------------------------------

  /** Queues bytes for the socket; writes of one tick leave in one writev. */
  write(buf: Buffer): void {
    if (this.state === 'closed') return;
    this.cork();
    this.out.flushTo(this.socket);
    this.socket.write(buf);
  }

  /** Content frames encoded in bulk (deliveries); flushed with the tick's other writes, in order. */
  get contentOut(): FrameBatch {
    this.cork();
    return this.out;
  }

  private cork(): void {
    this.sent = true;
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(this.uncork);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    if (this.state !== 'closed') this.out.flushTo(this.socket);
    this.socket.uncork();
  };

  /** Whether the socket can take more deliveries without growing its buffer past the limit. */
  get writable(): boolean {
    return this.state !== 'closed' && this.socket.writableLength < this.ctx.settings.writeBacklogBytesMax;
  }

  // ---- input ----------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.received = true;
    this.parser.push(chunk);
    this.readFrames();
  }

  /** Handles the frames buffered so far; stops early (the rest stays buffered) while reading is held. */
  private readFrames(): void {
    const v = this.view;
    const s = this.ctx.settings;
    try {
      for (;;) {
        if ((this.paused && this.state === 'opened') || this.authenticating) break;
        const r = this.parser.readView(v);
        if (r === ViewResult.NeedMore) break;
        if (r === ViewResult.ProtocolHeader) {
          this.sendStart();
          continue;
        }
        this.onFrameView(v);
        if ((this.state as State) === 'closed') return;
        if (this.work.length >= s.queuedCommandsMax || this.unsettledBytes + this.work.bytes + this.contentAssembly.bytes > s.unsettledPublishBytesMax) this.checkBackPressure();
      }
    } catch (err) {
      if (err instanceof AmqpDecodeError && err.badProtocolHeader) {
        // README §1: answer with our header and close, no frames.
        this.socket.end(PROTOCOL_HEADER);
        this.state = 'closed';
        return;
      }
      this.hardError(amqpErrorOf(err));
    }
    if (this.pumping) return;
    if (this.work.length > 0) void this.pump();
    else if (this.staged) {
      this.staged = false;
      for (const ch of this.channels.values()) ch.flushPublishes();
      this.checkBackPressure();
    }
  }

  /**
   * The publish path without per-frame objects (publish-in-place.ts): basic.publish, its content header and
   * body frames on an open channel are handled in place; every other frame and case takes onFrame.
   */
  private onFrameView(v: AmqpFrameView): void {
    if (this.state === 'opened') {
      const r = v.type === FrameType.Method ? publishMethodInPlace(this.channels, v) : v.type === FrameType.Header ? contentHeaderInPlace(this.channels, v, this.ctx.settings.messageBytesMax) : v.type === FrameType.Body ? bodyInPlace(this.channels, v) : InPlace.No;
      if (r === InPlace.Complete) {
        const ch = this.channels.get(v.channel)!;
        return this.completeContent(ch, ch.pending);
      }
      if (r === InPlace.Partial) return this.checkContentAssembly();
      if (r === InPlace.Done) return;
    }
    this.onFrame({ type: v.type, channel: v.channel, payload: v.buf.subarray(v.start, v.end) });
  }

  private onFrame(f: AmqpFrame): void {
    if (this.state === 'closing') {
      // After sending connection.close only close / close-ok matter (README §6).
      if (f.type === FrameType.Method && f.channel === 0) {
        const m = decodeMethod(f.payload);
        if (m.name === 'connection.close-ok') this.finish(true);
        else if (m.name === 'connection.close') {
          this.write(encodeConnectionCloseOkFrame(0, {}));
          this.finish(false);
        }
      }
      return;
    }
    switch (f.type) {
      case FrameType.Heartbeat:
        if (f.channel !== 0) throw new AmqpError(ReplyCode.FrameError, `heartbeat frame on channel ${f.channel}`);
        return;
      case FrameType.Method:
        return this.onMethodFrame(f);
      case FrameType.Header:
        return this.onHeaderFrame(f);
      case FrameType.Body:
        return this.onBodyFrame(f);
      default:
        throw new AmqpError(ReplyCode.FrameError, `unknown frame type ${f.type as number}`);
    }
  }

  private onMethodFrame(f: AmqpFrame): void {
    const m = decodeMethod(f.payload);
    if (f.channel === 0) return this.onConnectionMethod(m);
    if (this.state !== 'opened') throw new AmqpError(ReplyCode.CommandInvalid, `method ${m.name} on channel ${f.channel} before the connection is open`, m.classId, m.methodId);
    if (m.classId === 10) throw new AmqpError(ReplyCode.CommandInvalid, `connection method ${m.name} on channel ${f.channel}`, m.classId, m.methodId);
    let ch = this.channels.get(f.channel);
    if (ch?.pending.active) throw new AmqpError(ReplyCode.UnexpectedFrame, `expected content header for class 60, got non content header frame instead`, m.classId, m.methodId);
    if (m.name === 'channel.open') {
      if (ch) throw new AmqpError(ReplyCode.ChannelError, `second 'channel.open' seen`, m.classId, m.methodId);
      if (f.channel > this.channelMax) throw new AmqpError(ReplyCode.NotAllowed, `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`, m.classId, m.methodId);
      ch = new AmqpChannel(this, f.channel);
      this.channels.set(f.channel, ch);
      ch.sendOpenOk();
      return;
    }
    if (!ch) throw new AmqpError(ReplyCode.ChannelError, `expected 'channel.open' on channel ${f.channel}`, m.classId, m.methodId);
    if (ch.closing) {
      // Dropped until close-ok (README §6); a crossing close is answered.
      if (m.name === 'channel.close-ok') this.channels.delete(f.channel);
      else if (m.name === 'channel.close') ch.sendCloseOk();
      return;
    }
    if (methodHasContent(m.classId, m.methodId)) {
      if (m.name !== 'basic.publish') throw new AmqpError(ReplyCode.CommandInvalid, `${m.name} is sent by servers only`, m.classId, m.methodId);
      ch.pending.begin(m.args.exchange, m.args.routingKey, m.args.mandatory, m.args.immediate);
      return;
    }
    this.enqueue({ channel: ch, method: m, publish: undefined, bytes: f.payload.length });
  }

  private onHeaderFrame(f: AmqpFrame): void {
    const ch = this.channels.get(f.channel);
    const pc = ch?.pending;
    if (!pc || !pc.active || pc.props !== undefined) {
      if (ch?.closing) return;
      throw new AmqpError(ReplyCode.UnexpectedFrame, `expected method frame, got non method frame instead`);
    }
    const h = decodeContentHeader(f.payload);
    if (h.bodySize > BigInt(this.ctx.settings.messageBytesMax)) {
      pc.reset();
      ch!.skipBody = Number(h.bodySize);
      ch.fail(new AmqpError(ReplyCode.PreconditionFailed, `message size ${h.bodySize} is larger than configured max size ${this.ctx.settings.messageBytesMax}`, 60, 40));
      return;
    }
    pc.props = h.properties;
    pc.bodySize = Number(h.bodySize);
    if (pc.bodySize === 0) this.completeContent(ch!, pc);
  }

  private onBodyFrame(f: AmqpFrame): void {
    const ch = this.channels.get(f.channel);
    const pc = ch?.pending;
    if (!pc || !pc.active || pc.props === undefined) {
      if (ch && (ch.closing || ch.skipBody > 0)) {
        ch.skipBody = Math.max(0, ch.skipBody - f.payload.length);
        return;
      }
      throw new AmqpError(ReplyCode.UnexpectedFrame, `expected method frame, got non method frame instead`);
    }
    if (pc.received + f.payload.length > pc.bodySize) throw new AmqpError(ReplyCode.FrameError, `body of ${pc.received + f.payload.length} bytes exceeds the ${pc.bodySize} declared in its content header`);
    pc.addPart(f.payload);
    if (pc.received === pc.bodySize) this.completeContent(ch!, pc);
    else this.checkContentAssembly();
  }

  /** Incomplete contents of all channels are bounded per connection (README §6): over the limit is 530. */
  private checkContentAssembly(): void {
    const max = this.ctx.settings.incompleteContentBytesMax;
    if (this.contentAssembly.bytes > max) throw notAllowed(`incomplete message contents on this connection exceed ${max} bytes`);
  }

  /**
   * A publish is complete. With nothing queued before it, it is staged on its channel at once (and flushed
   * at the end of this read); otherwise it waits its turn in the pump.
   */
  private completeContent(ch: AmqpChannel, pc: PendingContent): void {
    const body = pc.body;
    const props = pc.props!;
    pc.reset();
    if (!this.pumping && this.work.length === 0) {
      if (this.state === 'opened' && !ch.closing) {
        ch.addPublish(pc.exchange, pc.routingKey, pc.mandatory, pc.immediate, props, body);
        this.staged = true;
      }
    } else {
      this.enqueue({ channel: ch, method: undefined, publish: { exchange: pc.exchange, routingKey: pc.routingKey, mandatory: pc.mandatory, immediate: pc.immediate, props, body }, bytes: body.length });
    }
    this.holdIfAlarm();
  }

  private enqueue(c: Command): void {
    this.work.push(c);
  }

  /**
   * Handles queued commands in order; consecutive publishes are batched until the next other method. A
   * method waits until the publishes before it are stored (so that it sees them), except acks, nacks and
   * rejects: they settle deliveries, which no publish affects, and do not wait for an fsync.
   */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let c = this.work.shift(); c !== undefined; c = this.work.shift()) {
        if (this.paused) this.checkBackPressure();
        if (this.state !== 'opened' || c.channel.closing) continue;
        const p = c.publish;
        if (p) {
          c.channel.addPublish(p.exchange, p.routingKey, p.mandatory, p.immediate, p.props, p.body);
          continue;
        }
        if (isSettlement(c.method!)) {
          await c.channel.handle(c.method!);
          continue;
        }
        for (const ch of this.channels.values()) ch.flushPublishes();
        await this.settledPublishesBefore();
        if (c.channel.closing || this.state !== 'opened') continue;
        await c.channel.handle(c.method!);
      }
      for (const ch of this.channels.values()) ch.flushPublishes();
    } catch (err) {
      this.hardError(amqpErrorOf(err));
    } finally {
      this.pumping = false;
    }
    this.checkBackPressure();
  }

  /** Waits until every publish handed to the core so far has been stored (so later methods see them). */
  private async settledPublishesBefore(): Promise<void> {
    for (const ch of this.channels.values()) await ch.publishesSettled();
  }

  /**
   * Reading stops while too many publish bytes are queued, being assembled or waiting for storage (as long
   * as some are queued or waiting: incomplete contents alone only complete by reading on), while too many
   * commands wait for the pump, while a queue published to cannot keep up with its consumers (flow), or
   * while a resource alarm blocks this publisher; it resumes when all clear, with the frames already
   * buffered.
   */
  checkBackPressure(): void {
    const s = this.ctx.settings;
    const inFlight = this.unsettledBytes + this.work.bytes;
    // Commands: held at the limit, read again once half of them are handled.
    const commands = this.paused ? this.work.length > s.queuedCommandsMax / 2 : this.work.length >= s.queuedCommandsMax;
    const hold = (inFlight > 0 && inFlight + this.contentAssembly.bytes > s.unsettledPublishBytesMax) || commands || this.flowHolds > 0 || this.blocked;
    if (hold && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!hold && this.paused && this.state !== 'closed') {
      this.paused = false;
      this.socket.resume();
      if (this.parser.bufferedBytes > 0) queueMicrotask(this.readBuffered);
    }
  }

  private readonly readBuffered = (): void => {
    if (this.state !== 'closed' && !this.paused) this.readFrames();
  };

  /** Credit flow: stop reading this publisher until `until` resolves (a congested queue drained). */
  holdForFlow(until: Promise<void>): void {
    this.flowHolds++;
    this.checkBackPressure();
    void until.then(() => {
      this.flowHolds--;
      this.checkBackPressure();
    });
  }

  // ---- connection class (channel 0) ---------------------------------------------------------------------

  private sendStart(): void {
    this.write(encodeStart(this.ctx.settings));
    this.state = 'start-ok';
  }

  private onConnectionMethod(m: AmqpMethod): void {
    switch (m.name) {
      case 'connection.start-ok':
        if (this.state !== 'start-ok') break;
        return this.onStartOk(m.args);
      case 'connection.secure-ok':
        break;
      case 'connection.tune-ok':
        if (this.state !== 'tune-ok') break;
        return this.onTuneOk(m.args);
      case 'connection.open':
        if (this.state !== 'open') break;
        return this.onOpen(m.args.virtualHost);
      case 'connection.close':
        // close-ok once the connection's channels are released and its exclusive queues gone: a client that
        // reconnects after close-ok does not find them (README §6).
        log.debug({ remote: this.remote, code: m.args.replyCode, text: m.args.replyText }, 'client closed connection');
        this.state = 'closing';
        this.releaseChannels();
        void this.ctx.broker
          .deleteExclusiveQueues(this.id)
          .catch(() => undefined)
          .then(() => {
            if (this.state === 'closed') return;
            this.write(encodeConnectionCloseOkFrame(0, {}));
            this.finish(false);
          });
        return;
      case 'connection.close-ok':
        return this.destroy();
      case 'connection.update-secret':
        if (this.state !== 'opened') break;
        // Password users never expire: RabbitMQ accepts any new secret for them (README §2).
        this.write(encodeConnectionUpdateSecretOkFrame(0, {}));
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
        return; // informational from clients; ignored
      default:
        break;
    }
    throw new AmqpError(ReplyCode.CommandInvalid, `unexpected method ${m.name} on channel 0 in state ${this.state}`, m.classId, m.methodId);
  }

  private onStartOk(a: { clientProperties: FieldTable; mechanism: string; response: Buffer }): void {
    this.clientProperties = a.clientProperties;
    this.clientCapabilities = capabilitiesOf(a.clientProperties);
    const cred = credentialsOf(a.mechanism, a.response);
    if (typeof cred === 'string') return this.authFailed(cred);
    const { user, password } = cred;
    this.authenticating = true;
    void this.ctx.broker.users.verifyPlain(user, password, this.loopback).then(
      () => this.loggedIn(user),
      (err: unknown) => {
        this.authenticating = false;
        if (this.state !== 'closed') this.authFailed(err instanceof BrokerError ? `${a.mechanism} login refused: ${err.message}` : 'login refused');
      },
    );
  }

  private loggedIn(user: string): void {
    this.authenticating = false;
    if (this.state !== 'start-ok') return;
    this.user = user;
    const s = this.ctx.settings;
    this.write(encodeConnectionTuneFrame(0, { channelMax: s.channelMax, frameMax: s.frameMax, heartbeat: s.heartbeatSec }));
    this.state = 'tune-ok';
    if (this.parser.bufferedBytes > 0) this.readFrames();
  }

  private authFailed(text: string): void {
    log.info({ remote: this.remote, reason: text }, 'authentication failed');
    if (this.clientCapabilities.has('authentication_failure_close')) this.hardError(new AmqpError(ReplyCode.AccessRefused, text, 10, 11));
    else this.destroy();
  }

  private onTuneOk(a: { channelMax: number; frameMax: number; heartbeat: number }): void {
    const s = this.ctx.settings;
    const exceeds = (v: number, max: number) => max !== 0 && (v === 0 || v > max);
    if (a.frameMax !== 0 && a.frameMax < s.frameMaxMin) throw new AmqpError(ReplyCode.NotAllowed, `frame_max=${a.frameMax} < ${s.frameMaxMin} min_size`, 10, 31);
    if (exceeds(a.frameMax, s.frameMax)) throw new AmqpError(ReplyCode.NotAllowed, `frame_max=${a.frameMax} > ${s.frameMax} max_size`, 10, 31);
    if (exceeds(a.channelMax, s.channelMax)) throw new AmqpError(ReplyCode.NotAllowed, `channel_max=${a.channelMax} > ${s.channelMax} max`, 10, 31);
    this.frameMax = a.frameMax === 0 ? s.frameMax : a.frameMax;
    this.channelMax = a.channelMax === 0 ? s.channelMax : a.channelMax;
    this.heartbeatSec = a.heartbeat;
    this.parser.setFrameMax(this.frameMax);
    this.state = 'open';
    if (this.heartbeatSec > 0) this.startHeartbeats();
  }

  private onOpen(vhost: string): void {
    if (!this.ctx.broker.hasVhost(vhost)) throw notAllowed(`vhost ${vhost} not found`);
    if (!this.ctx.broker.users.canAccessVhost(this.user, vhost)) throw notAllowed(`access to vhost '${vhost}' refused for user '${this.user}'`);
    this.vhost = vhost;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.write(encodeConnectionOpenOkFrame(0, { knownHosts: '' }));
    this.state = 'opened';
    this.ctx.connections.add(this);
    if (this.ctx.alarm !== undefined) this.setAlarm(this.ctx.alarm);
    log.debug({ remote: this.remote, user: this.user, vhost }, 'connection opened');
  }

  /**
   * A resource alarm began (reason) or ended (undefined), as RabbitMQ does it (README §2): clients that
   * understand connection.blocked are told at once; a connection that publishes while the alarm holds stops
   * being read until it clears.
   */
  setAlarm(reason: string | undefined): void {
    if (this.state !== 'opened') return;
    const notify = this.clientCapabilities.has('connection.blocked');
    if (reason !== undefined) {
      if (notify && !this.notifiedBlocked) this.write(encodeConnectionBlockedFrame(0, { reason }));
      this.notifiedBlocked = notify;
    } else {
      if (this.notifiedBlocked) this.write(encodeConnectionUnblockedFrame(0, {}));
      this.notifiedBlocked = false;
      if (this.blocked) {
        this.blocked = false;
        this.checkBackPressure();
      }
    }
  }

  /** Called for each publish: under an alarm the socket is no longer read. */
  private holdIfAlarm(): void {
    if (this.ctx.alarm === undefined || this.blocked) return;
    this.blocked = true;
    this.checkBackPressure();
  }

  private startHeartbeats(): void {
    const halfMs = (this.heartbeatSec * 1000) / 2;
    this.heartbeatTimer = setInterval(() => {
      if (!this.sent) this.write(HEARTBEAT_FRAME);
      this.sent = false;
      if (this.received || this.paused) this.silentTicks = 0;
      else if (++this.silentTicks >= 4) {
        log.info({ remote: this.remote, heartbeatSec: this.heartbeatSec }, 'missed heartbeats from client; closing connection');
        this.destroy();
      }
      this.received = false;
    }, halfMs);
    this.heartbeatTimer.unref();
  }

  // ---- errors and closing ---------------------------------------------------------------------------------

  /** Sends connection.close and waits (a while) for close-ok, ignoring everything else (README §6). */
  hardError(e: AmqpError): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    log.info({ remote: this.remote, code: e.code, text: e.replyText }, 'connection error');
    if (this.state === 'header') return this.destroy();
    this.write(encodeConnectionCloseFrame(0, { replyCode: e.code, replyText: e.replyText, classId: e.classId, methodId: e.methodId }));
    this.state = 'closing';
    this.releaseChannels();
    this.closeTimer = setTimeout(() => this.destroy(), this.ctx.settings.closeTimeoutMs);
  }

  /** Server-initiated close (shutdown, admin). */
  close(code: number = ReplyCode.ConnectionForced, text = 'broker shutdown'): void {
    if (this.state === 'opened') this.hardError(new AmqpError(code, text));
    else this.destroy();
  }

  destroy(): void {
    this.onClosed();
    this.socket.destroy();
  }

  /**
   * The close handshake is done (close-ok sent or received): the connection is over, but the socket is the
   * client's to close, as RabbitMQ leaves it (a client closing at the same moment must not see EOF before
   * its close-ok). We end our side only when we started the close; the socket is destroyed if the client has
   * not closed it after closeOkLingerMs.
   */
  private finish(endOurSide: boolean): void {
    this.onClosed();
    if (endOurSide) this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), this.ctx.settings.closeOkLingerMs);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  private onClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of [this.handshakeTimer, this.closeTimer]) if (t) clearTimeout(t);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.releaseChannels();
    this.ctx.connections.delete(this);
    void this.ctx.broker.deleteExclusiveQueues(this.id).catch(() => undefined);
  }

  private releaseChannels(): void {
    this.work.clear();
    for (const ch of this.channels.values()) {
      ch.pending.reset();
      ch.release();
    }
    this.channels.clear();
  }

  /** The channel closed (close-ok received or sent). */
  channelClosed(ch: AmqpChannel): void {
    this.channels.delete(ch.id);
    ch.pending.reset();
  }
}
