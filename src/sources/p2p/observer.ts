/**
 * The p2p source: a honeypot Bitcoin node. It listens for inbound peers, dials
 * the given outbound ones, and publishes every connection, message, handshake,
 * ping and protocol violation as an event. This module only wires the pieces:
 * listener.ts (TCP servers), limits.ts (admission), dialer.ts (outbound with
 * backoff), peer.ts (one session each) and emit.ts (events and counters).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Network } from '../../protocol/networks.js';
import { formatEndpoint, netgroupOf } from '../../protocol/address.js';
import type { CloseReason, ObserverEvent } from '../../events/types.js';
import { Dialer } from './dialer.js';
import {
  candidateNetworkOf,
  evictionNetgroup,
  keyedNetgroup,
  selectNodeToEvict,
  selectPendingToEvict,
  type CandidateNetwork,
  type EvictionCandidate,
} from './eviction.js';
import { ObserverCounters, SOURCE, type P2PSink } from './emit.js';
import { EventSink } from '../../events/sink.js';
import { closeServer, endpointLabel, listenOn, type Endpoint } from './listener.js';
import { ConnectionLimiter, resolveLimits, type ObserverLimits } from './limits.js';
import { Peer, type PeerContext } from './peer.js';
import { DEFAULT_USER_AGENT } from './policy.js';
import { dialOnce } from './v2-fallback.js';
import { V2KeyPool } from './v2-keys.js';
import type { MimicNode } from './mimic/node.js';

export type { Endpoint } from './listener.js';
export type { ObserverLimits } from './limits.js';

export interface ObserverOptions {
  network: Network;
  nodeId: string;
  listen: Endpoint[];
  connect: Endpoint[];
  limits?: Partial<ObserverLimits>;
  publish: (event: ObserverEvent) => void;
  signal?: AbortSignal;
  /** The user agent in our version message. */
  userAgent?: string;
  /** Keep each received payload (base64) in its message/violation event (default false: summaries only). */
  recordRaw?: boolean;
  /** BIP324 v2 transport (default true): advertise NODE_P2P_V2, serve v1 and v2 inbound, dial v2 first with Core's v1 fallback. */
  v2?: boolean;
  /** Decoy packets (contents lengths) sent before our v2 version packet (default none, as Core). */
  v2Decoys?: readonly number[];
  /** `--mimic`: behave like this backend-backed node (mimic/node.ts). */
  mimic?: MimicNode;
  /**
   * Publish `pipeline.counters` itself every `limits.countersIntervalMs` and at stop (default true). False when a
   * runtime (src/runtime/) publishes them from its one timer through observerCounters().
   */
  publishCounters?: boolean;
}

export interface ObserverStats {
  connections: { inbound: number; outbound: number };
  inboundAccepted: number;
  inboundRefusedPerIp: number;
  inboundRefusedTotal: number;
  inboundRefusedPerNetgroup: number;
  /** Inbound peers evicted because the slots were full (Core's rules) and because the handshake budget was spent. */
  evictedInboundFull: number;
  evictedHandshakeSlots: number;
  /** Inbound connections in their handshake right now. */
  pendingHandshakes: number;
  outboundAttempts: number;
  outboundConnected: number;
  outboundFailed: number;
  handshakesCompleted: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  unknownCommands: number;
  violations: number;
  violationsByKind: Record<string, number>;
  sendDrops: number;
  /** Times reading from a peer was paused because its send buffer was full. */
  sendPauses: number;
  /** Bytes queued to peers' sockets right now. */
  sendQueuedBytes: number;
  eventsPublished: number;
  publishErrors: number;
  serverErrors: number;
  /** Outbound v2 attempts retried with v1 (Core's fallback). */
  v1Fallbacks: number;
  /** BIP324 v2 sessions established (both directions), and decoy packets received. */
  v2Sessions: number;
  v2DecoysIn: number;
  /** Our v2 keys: taken ready-made from the key pool's thread, or made inline (pool empty or its thread failed). */
  v2KeysPooled: number;
  v2KeysInline: number;
  /** 1 when the key pool's thread failed (every key is then made inline). */
  v2KeyThreadFailed: number;
}

export interface Observer {
  /** The bound endpoints, in the order given (port 0 replaced by the port taken). */
  listening: Endpoint[];
  stop(): Promise<void>;
  stats(): ObserverStats;
}

/** IPv4 peers on a dual-stack socket show up as ::ffff:a.b.c.d. */
export function normalizeIp(address: string | undefined): string {
  if (!address) return '';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/**
 * The observer's state: its peers (inbound with what eviction needs of each,
 * those still in their handshake), the admission limits, the dialers, the
 * counters. accept() admits one inbound socket by Core's rules (refused at a
 * limit, or room made by eviction); the listeners and dialers only feed it.
 * Tests drive it with sockets of their own, without a listener or a bus.
 */
export class P2PObserver implements Observer {
  readonly #options: ObserverOptions;
  readonly #limits: ObserverLimits;
  readonly #sink: P2PSink;
  readonly #counters = new ObserverCounters();
  readonly #limiter: ConnectionLimiter;
  readonly #peers = new Set<Peer>();
  readonly #dialerOf = new Map<Peer, Dialer>();
  readonly #v2: boolean;
  // Inbound peers and what eviction needs of each; the ones still in their handshake.
  readonly #inbound = new Map<Peer, { netgroup: string; keyed: bigint; network: CandidateNetwork; isLocal: boolean }>();
  readonly #pending = new Set<Peer>();
  // Core's nKeyedNetGroup randomizer: a secret per process, so no one can predict which netgroups are protected.
  readonly #netgroupKey = randomBytes(32);
  readonly #ctx: PeerContext;
  readonly #servers: Awaited<ReturnType<typeof listenOn>>[] = [];
  readonly #dialers: Dialer[];
  #nextId = 1;
  #serverErrors = 0;
  #v1Fallbacks = 0;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #refusedPerNetgroup = 0;
  #evictedInboundFull = 0;
  #evictedHandshakeSlots = 0;
  readonly #countersTimer: NodeJS.Timeout | undefined;
  // Started at the first v2 handshake, so an observer that never meets a v2 peer starts no thread.
  #keyPool: V2KeyPool | undefined;
  readonly #onAbort = (): void => void this.stop();

  /** Listen, then dial; the counters timer runs unless `publishCounters` is false. */
  static async start(options: ObserverOptions): Promise<P2PObserver> {
    const observer = new P2PObserver(options);
    await observer.#listen();
    if (options.signal?.aborted) {
      await observer.stop();
    } else {
      options.signal?.addEventListener('abort', observer.#onAbort, { once: true });
      for (const d of observer.#dialers) d.start();
    }
    return observer;
  }

  /** Not listening nor dialling yet: start() does both; tests may feed accept() directly. */
  constructor(options: ObserverOptions) {
    this.#options = options;
    this.#limits = resolveLimits(options.limits);
    this.#sink = new EventSink(options.nodeId, SOURCE, options.publish);
    this.#limiter = new ConnectionLimiter(this.#limits);
    this.#v2 = options.v2 ?? true;
    this.#ctx = {
      network: options.network,
      limits: this.#limits,
      sink: this.#sink,
      counters: this.#counters,
      userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
      recordRaw: options.recordRaw ?? false,
      ownNonces: new Set(),
      v2: this.#v2,
      ...(options.v2Decoys ? { v2Decoys: options.v2Decoys } : {}),
      v2Key: () => (this.#keyPool ??= new V2KeyPool()).take(),
      ...(options.mimic ? { mimic: options.mimic } : {}),
      onClosed: (peer: Peer, _reason: CloseReason) => {
        this.#peers.delete(peer);
        this.#inbound.delete(peer);
        this.#pending.delete(peer);
        if (peer.info.direction === 'inbound') this.#limiter.release(peer.info.remoteIp);
        const dialer = this.#dialerOf.get(peer);
        this.#dialerOf.delete(peer);
        if (dialer && !this.#stopping && peer.connection.shouldReconnectV1) void this.#retryV1(dialer);
        else if (dialer && !this.#stopping) dialer.dropped(peer.handshakeComplete);
      },
      onHandshake: (peer: Peer) => {
        this.#pending.delete(peer);
      },
    };
    this.#dialers = options.connect.map((target) => {
      const dialer: Dialer = new Dialer(target, this.#limits, {
        onAttempt: () => {
          this.#counters.outboundAttempts++;
        },
        onConnected: (socket) => {
          this.#counters.outboundConnected++;
          const peer = this.#outboundPeer(socket, target, this.#v2 ? 'v2' : 'v1');
          if (peer.isClosed) {
            dialer.dropped(false);
          } else {
            this.#peers.add(peer);
            this.#dialerOf.set(peer, dialer);
          }
        },
        onFailed: (detail, elapsedMs, retry) =>
          this.#connectFailed(target, `${detail}; attempt ${retry.attempt}, next in ${(retry.retryInMs / 1000).toFixed(1)} s`, elapsedMs),
      });
      return dialer;
    });
    this.#countersTimer =
      options.publishCounters !== false ? setInterval(() => this.#publishCounters(), this.#limits.countersIntervalMs).unref() : undefined;
  }

  /** The bound endpoints, in the order given (port 0 replaced by the port taken). */
  get listening(): Endpoint[] {
    return this.#servers.map((s) => s.bound);
  }

  /** Admit one inbound connection, or refuse it (counted, a connection.closed event) at a limit Core's rules keep. */
  accept(socket: Socket): void {
    socket.on('error', () => {}); // handled per connection below; never unhandled
    const ip = normalizeIp(socket.remoteAddress);
    if (this.#stopping || !ip) {
      socket.destroy();
      return;
    }
    const group = evictionNetgroup(ip);
    const capped = this.#limiter.refusal(ip, group);
    if (capped) return this.#refuse(socket, ip, capped, group);
    if (!this.#makeRoom(group)) return this.#refuse(socket, ip, 'total', group);
    const admit = this.#limiter.admit(ip, group);
    if (admit !== 'ok') return this.#refuse(socket, ip, admit, group);
    this.#counters.inboundAccepted++;
    const peer = new Peer(this.#ctx, socket, {
      id: this.#nextId++,
      direction: 'inbound',
      remoteIp: ip,
      remotePort: socket.remotePort ?? 0,
      local: safeEndpoint(normalizeIp(socket.localAddress), socket.localPort ?? 0),
    });
    if (!peer.isClosed) {
      this.#peers.add(peer);
      this.#inbound.set(peer, { netgroup: group, keyed: keyedNetgroup(group, this.#netgroupKey), ...candidateNetworkOf(ip) });
      if (!peer.handshakeComplete) this.#pending.add(peer);
    }
  }

  stats(): ObserverStats {
    const counters = this.#counters;
    let inbound = 0;
    let outbound = 0;
    let bytesIn = counters.closedBytesIn;
    let bytesOut = counters.closedBytesOut;
    let sendPauses = counters.closedSendPauses;
    let sendQueuedBytes = 0;
    let v2DecoysIn = counters.closedDecoysIn;
    for (const p of this.#peers) {
      v2DecoysIn += p.connection.v2Transport?.decoysIn ?? 0;
      if (p.info.direction === 'inbound') inbound++;
      else outbound++;
      bytesIn += p.connection.bytesIn;
      bytesOut += p.connection.bytesOut;
      sendPauses += p.connection.sendPauses;
      sendQueuedBytes += p.connection.pendingOut;
    }
    return {
      connections: { inbound, outbound },
      inboundAccepted: counters.inboundAccepted,
      inboundRefusedPerIp: counters.inboundRefusedPerIp,
      inboundRefusedTotal: counters.inboundRefusedTotal,
      inboundRefusedPerNetgroup: this.#refusedPerNetgroup,
      evictedInboundFull: this.#evictedInboundFull,
      evictedHandshakeSlots: this.#evictedHandshakeSlots,
      pendingHandshakes: this.#pending.size,
      outboundAttempts: counters.outboundAttempts,
      outboundConnected: counters.outboundConnected,
      outboundFailed: counters.outboundFailed,
      handshakesCompleted: counters.handshakesCompleted,
      framesIn: counters.framesIn,
      framesOut: counters.framesOut,
      bytesIn,
      bytesOut,
      unknownCommands: counters.unknownCommands,
      violations: counters.violations,
      violationsByKind: Object.fromEntries(counters.violationsByKind),
      sendDrops: counters.sendDrops,
      sendPauses,
      sendQueuedBytes,
      eventsPublished: this.#sink.published,
      publishErrors: this.#sink.publishErrors,
      serverErrors: this.#serverErrors,
      v1Fallbacks: this.#v1Fallbacks,
      v2Sessions: counters.v2Sessions,
      v2DecoysIn,
      v2KeysPooled: this.#keyPool?.counters().pooled ?? 0,
      v2KeysInline: this.#keyPool?.counters().inline ?? 0,
      v2KeyThreadFailed: this.#keyPool?.counters().failure ? 1 : 0,
    };
  }

  /** Stop dialling, close every peer (reason `shutdown`) and the listeners. Idempotent. */
  stop(): Promise<void> {
    this.#stopping = true;
    this.#stopped ??= (async () => {
      clearInterval(this.#countersTimer);
      this.#options.signal?.removeEventListener('abort', this.#onAbort);
      for (const d of this.#dialers) d.stop();
      for (const p of [...this.#peers]) p.disconnect('shutdown', 'observer stopping');
      await Promise.all(this.#servers.map((s) => closeServer(s.server)));
      this.#publishCounters();
      await this.#keyPool?.close();
    })();
    return this.#stopped;
  }

  async #listen(): Promise<void> {
    try {
      for (const endpoint of this.#options.listen) {
        this.#servers.push(
          await listenOn(
            endpoint,
            (socket) => this.accept(socket),
            () => {
              this.#serverErrors++;
            },
          ),
        );
      }
    } catch (error) {
      clearInterval(this.#countersTimer);
      await Promise.all(this.#servers.map((s) => closeServer(s.server)));
      throw error;
    }
  }

  #publishCounters(): void {
    if (this.#options.publishCounters !== false)
      this.#sink.emit('pipeline.counters', { stage: 'p2p.observer', counters: observerCounters(this.stats()) });
  }

  #outboundPeer(socket: Socket, target: Endpoint, transport: 'v1' | 'v2'): Peer {
    return new Peer(this.#ctx, socket, {
      id: this.#nextId++,
      direction: 'outbound',
      remoteIp: normalizeIp(socket.remoteAddress) || target.host,
      remotePort: socket.remotePort ?? target.port,
      local: safeEndpoint(normalizeIp(socket.localAddress), socket.localPort ?? 0),
      transport,
    });
  }

  #connectFailed(target: Endpoint, detail: string, elapsedMs: number): void {
    this.#counters.outboundFailed++;
    // An outbound connection that never opened: a connection.closed without an opened.
    this.#sink.emit('connection.closed', {
      conn: { id: this.#nextId++, direction: 'outbound', remote: endpointLabel(target) },
      network: this.#options.network.name,
      netgroup: netgroupText(target.host),
      reason: 'connect-failed',
      detail,
      durationMs: Math.round(elapsedMs * 1000) / 1000,
      handshakeComplete: false,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
    });
  }

  /** Core's v1 fallback: one immediate v1 dial to the same target (see v2-fallback.ts). */
  async #retryV1(dialer: Dialer): Promise<void> {
    this.#v1Fallbacks++;
    this.#counters.outboundAttempts++;
    const r = await dialOnce(dialer.target, this.#limits.connectTimeoutMs);
    if (this.#stopping) {
      if ('socket' in r) r.socket.destroy();
      return;
    }
    if ('error' in r) {
      this.#connectFailed(dialer.target, `v1 retry: ${r.error}`, r.elapsedMs);
      dialer.dropped(false);
      return;
    }
    this.#counters.outboundConnected++;
    r.socket.on('error', () => {});
    const peer = this.#outboundPeer(r.socket, dialer.target, 'v1');
    if (peer.isClosed) dialer.dropped(false);
    else {
      this.#peers.add(peer);
      this.#dialerOf.set(peer, dialer);
    }
  }

  #refuse(socket: Socket, ip: string, why: 'per-ip' | 'per-netgroup' | 'total', netgroup: string): void {
    const limits = this.#limits;
    if (why === 'per-ip') this.#counters.inboundRefusedPerIp++;
    else if (why === 'per-netgroup') this.#refusedPerNetgroup++;
    else this.#counters.inboundRefusedTotal++;
    const port = socket.remotePort ?? 0;
    socket.resetAndDestroy();
    this.#sink.emit('connection.closed', {
      conn: { id: this.#nextId++, direction: 'inbound', remote: safeEndpoint(ip, port) },
      network: this.#options.network.name,
      netgroup: netgroupText(ip),
      reason: 'limit',
      detail:
        why === 'per-ip'
          ? `more than ${limits.maxPerIp} connections from ${ip}`
          : why === 'per-netgroup'
            ? `more than ${limits.maxPerNetgroup} connections from netgroup ${netgroup}`
            : `${limits.maxConnections} inbound connections already, all protected from eviction`,
      durationMs: 0,
      handshakeComplete: false,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
    });
  }

  /**
   * Make room for a new inbound connection from `group`: past the handshake
   * budget, close the least advanced handshake; with the slots full, evict the
   * peer Core's rules choose (net.cpp AttemptToEvictConnection). False: the
   * slots are full and every peer is protected, so the new one is refused.
   */
  #makeRoom(group: string): boolean {
    const limits = this.#limits;
    const pending = this.#pending;
    const inbound = this.#inbound;
    if (pending.size >= limits.maxPendingHandshakes) {
      const byId = new Map([...pending].map((p) => [p.info.id, p]));
      const choice = selectPendingToEvict(
        [...pending].map((p) => ({
          id: p.info.id,
          connectedMs: p.openedAt,
          versionReceived: p.versionReceived,
          netgroup: inbound.get(p)!.netgroup,
        })),
        performance.now(),
      );
      const victim = choice && byId.get(choice.id);
      if (victim) {
        this.#evictedHandshakeSlots++;
        const stage = victim.versionReceived ? 'no verack' : victim.connection.bytesIn > 0 ? 'no version' : 'no bytes';
        victim.disconnect(
          'evicted',
          `all ${limits.maxPendingHandshakes} handshake slots taken: the least advanced (${stage} after ` +
            `${Math.round(performance.now() - victim.openedAt)} ms, netgroup ${inbound.get(victim)?.netgroup}) makes room for one from ${group}`,
          'handshake-slots',
        );
      }
    }
    if (this.#limiter.size < limits.maxConnections) return true;
    const candidates: EvictionCandidate[] = [];
    const byId = new Map<number, Peer>();
    for (const [p, meta] of inbound) {
      byId.set(p.info.id, p);
      candidates.push({
        id: p.info.id,
        ...p.evictionState(),
        keyedNetgroup: meta.keyed,
        netgroup: meta.netgroup,
        isLocal: meta.isLocal,
        network: meta.network,
      });
    }
    const choice = selectNodeToEvict(candidates);
    const victim = choice && byId.get(choice.id);
    if (!choice || !victim) return false;
    this.#evictedInboundFull++;
    victim.disconnect(
      'evicted',
      `${limits.maxConnections} inbound slots full: the youngest of the ${choice.groupSize} unprotected connections from ` +
        `netgroup ${choice.netgroup} (${choice.protected} of ${choice.candidates} protected) makes room for one from ${group}`,
      'inbound-full',
    );
    return this.#limiter.size < limits.maxConnections;
  }
}

/** Listen, dial, and publish every connection and message (P2PObserver.start). */
export function startObserver(options: ObserverOptions): Promise<Observer> {
  return P2PObserver.start(options);
}

/** The observer's stats as the flat numbers of its `pipeline.counters` event (stage `p2p.observer`). */
export function observerCounters(s: ObserverStats): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number') flat[k] = v;
  }
  flat['connections.inbound'] = s.connections.inbound;
  flat['connections.outbound'] = s.connections.outbound;
  for (const [k, v] of Object.entries(s.violationsByKind)) flat[`violations.${k}`] = v;
  return flat;
}

function safeEndpoint(ip: string, port: number): string {
  try {
    return formatEndpoint(ip, port);
  } catch {
    return `${ip}:${port}`;
  }
}

function netgroupText(host: string): string {
  try {
    return netgroupOf(host);
  } catch {
    return 'unknown';
  }
}
