/**
 * The p2p source: a honeypot Bitcoin node. It listens for inbound peers, dials
 * the given outbound ones, and publishes every connection, message, handshake,
 * ping and protocol violation as an event. This module only wires the pieces:
 * listener.ts (TCP servers), limits.ts (admission), dialer.ts (outbound with
 * backoff), peer.ts (one session each) and emit.ts (events and counters).
 */
import type { Socket } from 'node:net';
import type { Network } from '../../protocol/networks.js';
import { formatEndpoint, netgroupOf } from '../../protocol/address.js';
import type { CloseReason, ObserverEvent } from '../../events/types.js';
import { Dialer } from './dialer.js';
import { EventSink, ObserverCounters } from './emit.js';
import { closeServer, endpointLabel, listenOn, type Endpoint } from './listener.js';
import { ConnectionLimiter, resolveLimits, type ObserverLimits } from './limits.js';
import { Peer, type PeerContext } from './peer.js';
import { DEFAULT_USER_AGENT } from './policy.js';
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
  /** `--mimic`: behave like this backend-backed node (mimic/node.ts). */
  mimic?: MimicNode;
}

export interface ObserverStats {
  connections: { inbound: number; outbound: number };
  inboundAccepted: number;
  inboundRefusedPerIp: number;
  inboundRefusedTotal: number;
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

export async function startObserver(options: ObserverOptions): Promise<Observer> {
  const limits = resolveLimits(options.limits);
  const sink = new EventSink(options.nodeId, options.publish);
  const counters = new ObserverCounters();
  const limiter = new ConnectionLimiter(limits);
  const peers = new Set<Peer>();
  const dialerOf = new Map<Peer, Dialer>();
  let nextId = 1;
  let serverErrors = 0;
  let stopping = false;
  let stopped: Promise<void> | undefined;

  const ctx: PeerContext = {
    network: options.network,
    limits,
    sink,
    counters,
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
    recordRaw: options.recordRaw ?? false,
    ownNonces: new Set(),
    ...(options.mimic ? { mimic: options.mimic } : {}),
    onClosed(peer: Peer, _reason: CloseReason) {
      peers.delete(peer);
      if (peer.info.direction === 'inbound') limiter.release(peer.info.remoteIp);
      const dialer = dialerOf.get(peer);
      dialerOf.delete(peer);
      if (dialer && !stopping) dialer.dropped(peer.handshakeComplete);
    },
  };

  const refuse = (socket: Socket, ip: string, why: 'per-ip' | 'total'): void => {
    if (why === 'per-ip') counters.inboundRefusedPerIp++;
    else counters.inboundRefusedTotal++;
    const port = socket.remotePort ?? 0;
    socket.resetAndDestroy();
    sink.emit('connection.closed', {
      conn: { id: nextId++, direction: 'inbound', remote: safeEndpoint(ip, port) },
      network: options.network.name,
      netgroup: netgroupText(ip),
      reason: 'limit',
      detail:
        why === 'per-ip' ? `more than ${limits.maxPerIp} connections from ${ip}` : `${limits.maxConnections} inbound connections already`,
      durationMs: 0,
      handshakeComplete: false,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
    });
  };

  const onInbound = (socket: Socket): void => {
    socket.on('error', () => {}); // handled per connection below; never unhandled
    const ip = normalizeIp(socket.remoteAddress);
    if (stopping || !ip) {
      socket.destroy();
      return;
    }
    const admit = limiter.admit(ip);
    if (admit !== 'ok') return refuse(socket, ip, admit);
    counters.inboundAccepted++;
    const peer = new Peer(ctx, socket, {
      id: nextId++,
      direction: 'inbound',
      remoteIp: ip,
      remotePort: socket.remotePort ?? 0,
      local: safeEndpoint(normalizeIp(socket.localAddress), socket.localPort ?? 0),
    });
    if (!peer.isClosed) peers.add(peer);
  };

  const servers: Awaited<ReturnType<typeof listenOn>>[] = [];
  try {
    for (const endpoint of options.listen) {
      servers.push(
        await listenOn(endpoint, onInbound, () => {
          serverErrors++;
        }),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((s) => closeServer(s.server)));
    throw error;
  }

  const dialers = options.connect.map((target) => {
    const dialer: Dialer = new Dialer(target, limits, {
      onAttempt: () => {
        counters.outboundAttempts++;
      },
      onConnected: (socket) => {
        counters.outboundConnected++;
        const peer = new Peer(ctx, socket, {
          id: nextId++,
          direction: 'outbound',
          remoteIp: normalizeIp(socket.remoteAddress) || target.host,
          remotePort: socket.remotePort ?? target.port,
          local: safeEndpoint(normalizeIp(socket.localAddress), socket.localPort ?? 0),
        });
        if (peer.isClosed) {
          dialer.dropped(false);
        } else {
          peers.add(peer);
          dialerOf.set(peer, dialer);
        }
      },
      onFailed: (detail, elapsedMs) => {
        counters.outboundFailed++;
        // An outbound connection that never opened: a connection.closed without an opened.
        sink.emit('connection.closed', {
          conn: { id: nextId++, direction: 'outbound', remote: endpointLabel(target) },
          network: options.network.name,
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
      },
    });
    return dialer;
  });

  const stats = (): ObserverStats => {
    let inbound = 0;
    let outbound = 0;
    let bytesIn = counters.closedBytesIn;
    let bytesOut = counters.closedBytesOut;
    let sendPauses = counters.closedSendPauses;
    let sendQueuedBytes = 0;
    for (const p of peers) {
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
      eventsPublished: sink.published,
      publishErrors: sink.publishErrors,
      serverErrors,
    };
  };

  const publishCounters = (): void => {
    const s = stats();
    const flat: Record<string, number> = {};
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === 'number') flat[k] = v;
    }
    flat['connections.inbound'] = s.connections.inbound;
    flat['connections.outbound'] = s.connections.outbound;
    for (const [k, v] of Object.entries(s.violationsByKind)) flat[`violations.${k}`] = v;
    sink.emit('pipeline.counters', { stage: 'p2p.observer', counters: flat });
  };
  const countersTimer = setInterval(publishCounters, limits.countersIntervalMs).unref();

  const stop = (): Promise<void> => {
    stopping = true;
    stopped ??= (async () => {
      clearInterval(countersTimer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const d of dialers) d.stop();
      for (const p of [...peers]) p.disconnect('shutdown', 'observer stopping');
      await Promise.all(servers.map((s) => closeServer(s.server)));
      publishCounters();
    })();
    return stopped;
  };
  const onAbort = (): void => void stop();
  if (options.signal?.aborted) {
    await stop();
  } else {
    options.signal?.addEventListener('abort', onAbort, { once: true });
    for (const d of dialers) d.start();
  }

  return { listening: servers.map((s) => s.bound), stop, stats };
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
