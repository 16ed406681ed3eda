/**
 * One peer's session: the version handshake, the ping schedule, our answers, and
 * the events that record all of it. It drives a Connection and applies the rules
 * in policy.ts; it owns the peer's two timers (handshake, ping) and nothing else
 * grows with what the peer sends.
 */
import type { Socket } from 'node:net';
import type { Frame, FramingViolation } from '../../protocol/framing.js';
import type { Network } from '../../protocol/networks.js';
import type { EllSwiftKey } from '../../protocol/v2/ellswift.js';
import type { Message, Version } from '../../protocol/messages/types.js';
import { endpointOfBytes, formatEndpoint, ipFromString, netgroupOf } from '../../protocol/address.js';
import { toBase64 } from '../../protocol/hash.js';
import { serviceNames } from '../../protocol/services.js';
import { messageSummary } from '../../events/summary.js';
import { isKnown } from '../../protocol/messages/index.js';
import type { CloseReason, ConnDirection, ConnRef, EvictionRule, ViolationKind } from '../../events/types.js';
import type { EvictionCandidate } from './eviction.js';
import { Connection, type Incoming, type TransportInfo } from './connection.js';
import { v2Verdict } from './v2.js';
import { V1_RETRY_NOTE } from './v2-fallback.js';
import type { ObserverCounters, P2PSink } from './emit.js';
import type { ObserverLimits } from './limits.js';
import { PingTracker, randomNonce } from './ping.js';
import type { MimicNode } from './mimic/node.js';
import type { MimicSession } from './mimic/session.js';
import { mimicAfterVerack, mimicAfterVersion, mimicVersion } from './mimic/version.js';
import {
  afterVerack,
  afterVersion,
  answerGetdata,
  BIP0031_VERSION,
  gate,
  malformed,
  obsolete,
  ourVersion,
  serviceNotOffered,
  trailingBytes,
  type Verdict,
} from './policy.js';

export interface PeerContext {
  network: Network;
  limits: ObserverLimits;
  sink: P2PSink;
  counters: ObserverCounters;
  userAgent: string;
  /** Keep every received payload (base64) in its message or violation event, for the archive and forensics. */
  recordRaw: boolean;
  /** Nonces of our outbound handshakes in progress: an inbound version carrying one is ourselves. */
  ownNonces: Set<bigint>;
  /** BIP324 v2 on: advertise NODE_P2P_V2, serve v1 and v2 inbound. */
  v2: boolean;
  /** Decoy packets (contents lengths) to send before our v2 version packet (the simulator; Core sends none). */
  v2Decoys?: readonly number[];
  /** Our ephemeral v2 key for one connection (the observer's key pool, v2-keys.ts). */
  v2Key?: () => EllSwiftKey;
  /** With --mimic: the backend-backed node whose answers and identity this peer gets (mimic/). */
  mimic?: MimicNode;
  /** Called once when the peer is gone, after connection.closed was emitted. */
  onClosed(peer: Peer, reason: CloseReason): void;
  /** Called once when the handshake completes. */
  onHandshake?(peer: Peer): void;
}

/** What eviction (eviction.ts) needs beyond the netgroup: Core's NodeEvictionCandidate fields we track. */
export type PeerEvictionState = Pick<
  EvictionCandidate,
  'connectedMs' | 'minPingMs' | 'lastBlockMs' | 'lastTxMs' | 'relevantServices' | 'relayTxs' | 'bloomFilter' | 'preferEvict'
>;

const NODE_NETWORK = 1n;
const NODE_WITNESS = 1n << 3n;
const NODE_NETWORK_LIMITED = 1n << 10n;

export interface PeerInfo {
  id: number;
  direction: ConnDirection;
  remoteIp: string;
  remotePort: number;
  local: string;
  /** Outbound: the transport this attempt opens with (v2 first, v1 for Core's fallback). */
  transport?: 'v1' | 'v2';
}

export class Peer {
  readonly conn: ConnRef;
  readonly netgroup: string;
  readonly connection: Connection;
  private readonly openedMs = performance.now();
  private readonly ping = new PingTracker();
  private readonly ourNonce = randomNonce();
  private peerVersion: Version | undefined;
  private complete = false;
  private wtxidRelay = false;
  private addrV2 = false;
  private closed = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  // Eviction inputs (Core's CNode: m_min_ping_time, m_last_tx_time, m_last_block_time; violations for m_prefer_evict).
  private minPingMs = Infinity;
  private lastTxMs = 0;
  private lastBlockMs = 0;
  private violationCount = 0;
  private openedEmitted = false;
  /** With --mimic: this peer's mimic session, and the queue that handles its messages one at a time, in order, as Core does. */
  private readonly mimic: MimicSession | undefined;
  private mimicQueue: Promise<void> = Promise.resolve();
  private mimicQueued = 0;

  constructor(
    private readonly ctx: PeerContext,
    socket: Socket,
    readonly info: PeerInfo,
  ) {
    this.conn = { id: info.id, direction: info.direction, remote: formatEndpoint(info.remoteIp, info.remotePort) };
    this.netgroup = safeNetgroup(info.remoteIp);
    const inbound = info.direction === 'inbound';
    const v2 = inbound ? ctx.v2 : info.transport === 'v2';
    this.connection = new Connection(
      socket,
      {
        network: ctx.network,
        detectV2: inbound,
        maxSendBufferBytes: ctx.limits.maxSendBufferBytes,
        ...(v2 ? { v2: { initiating: !inbound, decoys: ctx.v2Decoys, ...(ctx.v2Key ? { key: ctx.v2Key } : {}) } } : {}),
      },
      {
        onIncoming: (item) => this.incoming(item),
        onTransport: (t) => {
          if (t.transport === 'v2') this.ctx.counters.v2Sessions++;
        },
        onEnd: (reason, detail) => this.finish(reason, detail),
        onInternalError: (error) => this.disconnect('socket-error', `internal error: ${errorText(error)}`),
      },
    );
    this.mimic = ctx.mimic?.session(this.mimicIo());
    // Opened at once, whatever the transport: an inbound flood must be visible when it
    // is accepted, not when (or whether) its first 16 bytes arrive. An inbound
    // connection with v2 on is `unknown` until those bytes decide (Core's getpeerinfo
    // says "detecting"); handshake.complete and connection.closed carry the transport
    // and, for v2, the session id and garbage length.
    this.opened(this.connection.transport);
    this.handshakeTimer = setTimeout(() => this.handshakeTimeout(), ctx.limits.handshakeTimeoutMs).unref();
    if (info.direction === 'outbound') {
      // We open with our version; its nonce lets our listener spot a connection to ourselves.
      ctx.ownNonces.add(this.ourNonce);
      this.sendVersion();
    }
  }

  private opened(t: TransportInfo | undefined): void {
    if (this.openedEmitted) return;
    this.openedEmitted = true;
    this.ctx.sink.emit('connection.opened', {
      conn: this.conn,
      local: this.info.local,
      network: this.ctx.network.name,
      netgroup: this.netgroup,
      transport: t?.transport ?? (this.info.direction === 'outbound' ? 'v2' : 'unknown'),
    });
  }

  get handshakeComplete(): boolean {
    return this.complete;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get versionReceived(): boolean {
    return this.peerVersion !== undefined;
  }

  /** When the connection opened (performance.now()). */
  get openedAt(): number {
    return this.openedMs;
  }

  /** A snapshot for eviction (eviction.ts). */
  evictionState(): PeerEvictionState {
    const services = this.peerVersion?.services ?? 0n;
    return {
      connectedMs: this.openedMs,
      minPingMs: this.minPingMs,
      lastBlockMs: this.lastBlockMs,
      lastTxMs: this.lastTxMs,
      // Core's HasAllDesirableServiceFlags: witness and a chain (full or the last 288 blocks).
      relevantServices: (services & NODE_WITNESS) !== 0n && (services & (NODE_NETWORK | NODE_NETWORK_LIMITED)) !== 0n,
      relayTxs: this.complete && (this.peerVersion?.relay ?? true),
      // We do not offer NODE_BLOOM: a filterload disconnects (policy.ts serviceNotOffered).
      bloomFilter: false,
      // Core prefers to evict discouraged (misbehaving) peers; ours: any protocol violation.
      preferEvict: this.violationCount > 0,
    };
  }

  /** Close from our side with a reason; emits connection.closed once. */
  disconnect(reason: CloseReason, detail: string, evictedFor?: EvictionRule): void {
    if (this.closed) return;
    this.connection.close();
    this.finish(reason, detail, evictedFor);
  }

  private finish(reason: CloseReason, detail: string, evictedFor?: EvictionRule): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.pingTimer);
    this.ctx.ownNonces.delete(this.ourNonce);
    if (this.mimic) this.ctx.mimic?.release(this.mimic);
    const c = this.connection;
    if (c.shouldReconnectV1) detail = `${detail}; ${V1_RETRY_NOTE}`;
    const t = c.transport;
    const v2 = c.v2Transport;
    this.ctx.counters.closedBytesIn += c.bytesIn;
    this.ctx.counters.closedBytesOut += c.bytesOut;
    this.ctx.counters.closedSendPauses += c.sendPauses;
    if (v2) this.ctx.counters.closedDecoysIn += v2.decoysIn;
    this.ctx.sink.emit('connection.closed', {
      conn: this.conn,
      network: this.ctx.network.name,
      netgroup: this.netgroup,
      reason,
      detail,
      durationMs: Math.round((performance.now() - this.openedMs) * 1000) / 1000,
      handshakeComplete: this.complete,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      messagesIn: c.framesIn,
      messagesOut: c.framesOut,
      ...(evictedFor ? { evictedFor } : {}),
      transport: t?.transport ?? (this.info.direction === 'outbound' && v2 ? 'v2' : 'unknown'),
      ...(t?.sessionId !== undefined ? { sessionId: t.sessionId, garbageLength: t.garbageLength } : {}),
      ...(v2 && v2.state !== 'v1' ? { decoysIn: v2.decoysIn } : {}),
    });
    this.ctx.onClosed(this, reason);
  }

  // ---- incoming ----

  private incoming(item: Incoming): void {
    if (item.type === 'framing') return this.framing(item.violation);
    if (item.type === 'v2') return this.violation(v2Verdict(item.violation), item.violation.command, item.violation.length);
    this.ctx.counters.framesIn++;
    if (item.type === 'message') this.recordMessage('in', item.message, item.frame.payload.length, item.frame.payload);
    if (this.mimic) return this.enqueueMimic(item);
    void this.process(item);
  }

  private process(item: Exclude<Incoming, { type: 'framing' | 'v2' }>): void | Promise<void> {
    const command = item.frame.command;
    const verdict =
      gate({ versionReceived: this.peerVersion !== undefined, complete: this.complete }, command) ?? serviceNotOffered(command);
    if (verdict) return this.violation(verdict, command, item.frame.payload.length);
    if (item.type === 'malformed')
      return this.violation(malformed(command, item.error, this.info.direction), command, item.frame.payload.length, item.frame.payload);
    if (item.trailing > 0) this.violation(trailingBytes(command, item.trailing), command, item.frame.payload.length, item.frame.payload);
    if (this.mimic) return this.mimic.handle(item.message).then((done) => (done ? undefined : this.handle(item.message, item.frame)));
    return this.handle(item.message, item.frame);
  }

  /**
   * With --mimic, answers may wait on the backend; Core handles one message of a
   * peer at a time, so ours go through one queue per peer, and a peer whose
   * queue grows past MIMIC_QUEUE_PAUSE is not read from until it drains (Core's
   * fPauseRecv).
   */
  private enqueueMimic(item: Exclude<Incoming, { type: 'framing' | 'v2' }>): void {
    this.mimicQueued++;
    // Paused on every arrival at or past the mark (the send-buffer drain may have resumed reading meanwhile).
    if (this.mimicQueued >= MIMIC_QUEUE_PAUSE) this.connection.socket.pause();
    this.mimicQueue = this.mimicQueue
      .then(async () => {
        if (this.closed) return;
        await this.process(item);
      })
      .catch((error: unknown) => this.disconnect('socket-error', `internal error: ${errorText(error)}`))
      .finally(() => {
        this.mimicQueued--;
        if (this.mimicQueued === MIMIC_QUEUE_PAUSE - 1 && !this.closed) this.connection.socket.resume();
      });
  }

  private mimicIo(): import('./mimic/session.js').MimicPeerIo {
    const self = this as Peer;
    return {
      direction: this.info.direction,
      send: (m) => self.send(m),
      disconnect: (reason, detail) => self.disconnect(reason, detail),
      get closed() {
        return self.closed;
      },
      get complete() {
        return self.complete;
      },
      get version() {
        return self.peerVersion;
      },
      get wtxidRelay() {
        return self.wtxidRelay;
      },
      get addrV2() {
        return self.addrV2;
      },
    };
  }

  private framing(v: FramingViolation): void {
    const verdict: Verdict = { kind: v.kind, action: v.fatal ? 'disconnect' : 'drop-message', detail: v.detail };
    this.violation(verdict, v.command, v.length);
  }

  private handle(m: Message, _frame: Frame): void | Promise<void> {
    if (!isKnown(m)) return; // kept as a message event, counted; Core ignores unknown commands
    switch (m.command) {
      case 'version':
        return this.onVersion(m.payload);
      case 'verack':
        return this.onVerack();
      case 'wtxidrelay':
        // Core: honoured only when the common version knows it; ignored otherwise.
        if (this.peerVersion && this.peerVersion.version >= 70016) this.wtxidRelay = true;
        return;
      case 'sendaddrv2':
        this.addrV2 = true;
        return;
      case 'ping':
        // BIP31: only peers above 60000 expect a pong.
        if (this.peerVersion && this.peerVersion.version > BIP0031_VERSION)
          this.send({ command: 'pong', payload: { nonce: m.payload.nonce } });
        return;
      case 'pong':
        return this.onPong(m.payload.nonce);
      // Eviction's useful-work inputs. Core counts only novel transactions accepted to its mempool and
      // novel blocks it connected; we hold neither, so any well-formed one after the handshake counts.
      case 'tx':
        if (this.complete) this.lastTxMs = performance.now();
        return;
      case 'block':
      case 'cmpctblock':
        if (this.complete) this.lastBlockMs = performance.now();
        return;
      case 'getdata': {
        const answer = answerGetdata(m.payload.items);
        if (answer) this.send(answer);
        return;
      }
      case 'getheaders':
        // Core with too little chain work answers an empty headers message, "to tell
        // the peer to go away but not treat us as unresponsive". That is us: height 0.
        this.send({ command: 'headers', payload: { headers: [] } });
        return;
      case 'getaddr':
        // Not answered. Core answers inbound getaddr from its address manager, and
        // sends nothing when that is empty; ours is empty by design: a honeypot must
        // never relay the addresses it hears (an addr flood would go through us).
        // Core ignores getaddr from outbound peers altogether (fingerprinting).
        return;
      default:
        // addr, inv, tx, headers, block, feefilter, notfound, ...: observed, never relayed.
        return;
    }
  }

  private onVersion(v: Version): void {
    this.peerVersion = v;
    const nowSec = Math.floor(Date.now() / 1000);
    this.ctx.sink.emit('handshake.version', {
      conn: this.conn,
      version: v.version,
      services: v.services.toString(),
      serviceNames: serviceNames(v.services),
      userAgent: v.userAgent ?? '',
      startHeight: v.startHeight ?? null,
      relay: v.relay ?? true,
      nonce: (v.nonce ?? 0n).toString(),
      timeOffsetSec: Number(v.timestamp) - nowSec,
      receiver: endpointOfBytes(v.receiver.ip, v.receiver.port),
      sender: v.sender ? endpointOfBytes(v.sender.ip, v.sender.port) : null,
    });
    const old = obsolete(v.version);
    if (old) return this.violation(old, 'version');
    // Core checks the nonce of inbound versions against its own pending outbound ones.
    if (this.info.direction === 'inbound' && v.nonce !== undefined && this.ctx.ownNonces.has(v.nonce)) {
      return this.violation({ kind: 'self-connection', action: 'disconnect', detail: `nonce ${v.nonce} is ours` }, 'version');
    }
    if (this.info.direction === 'inbound') this.sendVersion();
    const identity = this.ctx.mimic?.backend.identity;
    const next = identity ? mimicAfterVersion(Math.min(v.version, identity.protocolVersion)) : afterVersion(v.version);
    for (const m of next) this.send(m);
  }

  private onVerack(): void | Promise<void> {
    if (this.complete) return; // Core: "ignoring redundant verack"
    this.complete = true;
    clearTimeout(this.handshakeTimer);
    this.ctx.ownNonces.delete(this.ourNonce);
    this.ctx.counters.handshakesCompleted++;
    this.ctx.sink.emit('handshake.complete', {
      conn: this.conn,
      elapsedMs: Math.round((performance.now() - this.openedMs) * 1000) / 1000,
      wtxidRelay: this.wtxidRelay,
      addrV2: this.addrV2,
      ...this.transportFields(),
    });
    // Out of the handshake budget (eviction.ts) whichever node answers from here on.
    this.ctx.onHandshake?.(this);
    const identity = this.ctx.mimic?.backend.identity;
    if (this.mimic && identity) {
      // ProcessMessage(VERACK) sends sendcmpct; then SendMessages: the ping (MaybeSendPing), getheaders, feefilter.
      for (const m of mimicAfterVerack(Math.min(this.peerVersion!.version, identity.protocolVersion))) this.send(m);
      // MaybeSendPing: m_ping_start starts at zero, so the first ping goes out with the first SendMessages round.
      this.send({ command: 'ping', payload: { nonce: this.ping.start(performance.now()) } });
      this.schedulePing();
      return this.mimic.afterHandshake();
    }
    for (const m of afterVerack(this.peerVersion!.version, this.info.direction)) this.send(m);
    this.pingTick();
  }

  private transportFields(): { transport?: 'v1' | 'v2'; sessionId?: string; garbageLength?: number } {
    const t = this.connection.transport;
    if (!t) return {};
    return t.sessionId !== undefined
      ? { transport: t.transport, sessionId: t.sessionId, garbageLength: t.garbageLength }
      : { transport: t.transport };
  }

  private onPong(nonce: bigint): void {
    const r = this.ping.pong(nonce, performance.now());
    if (r.kind === 'latency') {
      this.minPingMs = Math.min(this.minPingMs, r.latencyMs);
      this.ctx.sink.emit('ping.latency', { conn: this.conn, nonce: r.nonce.toString(), latencyMs: Math.round(r.latencyMs * 1000) / 1000 });
      this.schedulePing();
      return;
    }
    const detail =
      r.kind === 'unsolicited'
        ? `pong ${r.nonce} without ping`
        : r.kind === 'mismatch'
          ? `pong ${r.nonce}, expected ${r.expected}`
          : `pong nonce zero, expected ${r.expected}: ping cancelled`;
    this.violation({ kind: 'unsolicited-pong', action: 'none', detail }, 'pong', 8);
    if (r.kind === 'zero') this.schedulePing();
  }

  // ---- timers ----

  private handshakeTimeout(): void {
    if (this.closed || this.complete) return;
    const stage = this.peerVersion ? 'no verack' : this.connection.bytesIn > 0 ? 'no version' : 'no bytes';
    this.violation({ kind: 'handshake-timeout', action: 'disconnect', detail: `${stage} after ${this.ctx.limits.handshakeTimeoutMs} ms` });
  }

  /** Send a ping when one is due, drop the peer when its ping timed out, then re-arm. */
  private pingTick(): void {
    if (this.closed) return;
    const now = performance.now();
    const { pingIntervalMs, pingTimeoutMs } = this.ctx.limits;
    if (this.ping.timedOut(now, pingTimeoutMs)) {
      return this.violation({
        kind: 'ping-timeout',
        action: 'disconnect',
        detail: `no pong for ${Math.round(this.ping.waitingMs(now))} ms`,
      });
    }
    if (this.ping.due(now, pingIntervalMs)) {
      const nonce = this.ping.start(now);
      this.send({ command: 'ping', payload: { nonce } });
    }
    this.schedulePing();
  }

  private schedulePing(): void {
    if (this.closed) return;
    clearTimeout(this.pingTimer);
    const { pingIntervalMs, pingTimeoutMs } = this.ctx.limits;
    const delay = this.ping.outstanding ? pingTimeoutMs - this.ping.waitingMs(performance.now()) : pingIntervalMs;
    this.pingTimer = setTimeout(() => this.pingTick(), Math.max(1, delay)).unref();
  }

  // ---- outgoing and records ----

  private sendVersion(): void {
    const ip = safeIp(this.info.remoteIp);
    const mimic = this.ctx.mimic;
    if (mimic?.backend.identity) {
      this.send(
        mimicVersion({
          identity: mimic.backend.identity,
          v2: mimic.v2,
          startHeight: mimic.backend.tip?.height ?? 0,
          nonce: this.ourNonce,
          peerIp: ip,
          peerPort: this.info.remotePort,
          // Core's CAddress of an inbound connection has no services; for an outbound one, what addrman knew (nothing here).
          peerServices: 0n,
          nowMs: Date.now(),
        }),
      );
      return;
    }
    this.send(
      ourVersion({
        nonce: this.ourNonce,
        peerIp: ip,
        peerPort: this.info.remotePort,
        userAgent: this.ctx.userAgent,
        nowMs: Date.now(),
        v2: this.ctx.v2,
      }),
    );
  }

  private send(m: Message): void {
    const r = this.connection.send(m);
    if (r.ok) {
      this.ctx.counters.framesOut++;
      this.recordMessage('out', m, r.size);
    } else if (r.reason === 'send-buffer-full') {
      this.ctx.counters.sendDrops++;
    }
  }

  /** `raw`: the payload as received, kept in the event when the observer records raw payloads. */
  private recordMessage(dir: 'in' | 'out', m: Message, size: number, raw?: Uint8Array): void {
    const known = isKnown(m);
    if (!known && dir === 'in') this.ctx.counters.unknownCommands++;
    this.ctx.sink.emit('message', {
      conn: this.conn,
      dir,
      size,
      ...messageSummary(m),
      ...(raw && this.ctx.recordRaw ? { raw: toBase64(raw) } : {}),
    });
  }

  private violation(v: Verdict, command?: string, size?: number, raw?: Uint8Array): void {
    this.ctx.counters.violation(v.kind);
    if (v.action !== 'none') this.violationCount++;
    this.ctx.sink.emit('violation', {
      conn: this.conn,
      kind: v.kind,
      action: v.action,
      detail: v.detail,
      ...(command !== undefined ? { command } : {}),
      ...(size !== undefined ? { size } : {}),
      ...(raw && this.ctx.recordRaw ? { raw: toBase64(raw) } : {}),
    });
    if (v.action === 'disconnect') this.disconnect(closeReasonFor(v.kind), `${v.kind}: ${v.detail}`);
  }
}

/** Messages waiting for the mimic's answers before we stop reading from the peer. */
const MIMIC_QUEUE_PAUSE = 64;

function closeReasonFor(kind: ViolationKind): CloseReason {
  if (kind === 'handshake-timeout') return 'handshake-timeout';
  if (kind === 'ping-timeout') return 'ping-timeout';
  return 'protocol-violation';
}

function safeIp(text: string): Uint8Array {
  try {
    return ipFromString(text);
  } catch {
    return new Uint8Array(16);
  }
}

function safeNetgroup(ipText: string): string {
  try {
    return netgroupOf(ipText);
  } catch {
    return 'unknown';
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
