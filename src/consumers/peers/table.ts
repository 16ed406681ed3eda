/**
 * The peers table behind /api/peers: what we know about each connection now,
 * like `bitcoin-cli -netinfo` / `getpeerinfo`, built from events only.
 *
 * Bounded by design: a closed peer stays visible for `closedTtlMs` and is then
 * evicted; the table never holds more than `maxPeers` entries (oldest closed
 * first, then the oldest open ones, each eviction counted). Per-peer state is a
 * fixed set of fields plus message counts by command (known commands + other).
 */
import type { Bus, Subscription } from '../../bus/bus.js';
import type { EventType, ObserverEvent } from '../../events/types.js';
import { summaryOf } from '../../events/message-summary.js';
import { addressNetwork, commandLabel } from '../metrics/labels.js';
import { connectionKey } from '../../events/conn-key.js';

/** The header every v1 frame carries (magic, command, length, checksum). */
const HEADER_BYTES = 24;

export const PEERS_EVENT_TYPES: readonly EventType[] = [
  'connection.opened',
  'connection.closed',
  'message',
  'handshake.version',
  'handshake.complete',
  'ping.latency',
  'violation',
  'peer.stats',
];

export interface PeerFlags {
  handshakeComplete: boolean;
  /** The peer sent sendaddrv2 (BIP155). */
  addrV2: boolean;
  /** The peer sent wtxidrelay (BIP339). */
  wtxidRelay: boolean;
  /** BIP37 relay flag from its version. */
  relay: boolean | null;
  /** It opened with BIP324 v2 transport bytes (or a Core source said transport v2). */
  v2: boolean;
}

export interface PeerRow {
  /** `nodeId/source/id`: unique across observers and sources. */
  key: string;
  id: number;
  nodeId: string;
  source: string;
  address: string;
  direction: string;
  /** Address network: ipv4, ipv6, onion, i2p, cjdns. */
  network: string;
  netgroup: string;
  /** The chain (mainnet, regtest, ...). */
  chain: string | null;
  connType: string | null;
  /** v1 or BIP324 v2, as the source said; `unknown` until one did. */
  transport: 'v1' | 'v2' | 'unknown';
  /** BIP324 session id (hex) of a v2 connection, when the source knows it. */
  sessionId: string | null;
  /** Attacker-controlled text: render it as text. */
  userAgent: string | null;
  version: number | null;
  services: string | null;
  serviceNames: string[];
  startHeight: number | null;
  timeOffsetSec: number | null;
  openedUs: number;
  /** Seconds since it opened (until it closed, for a closed peer). */
  ageSec: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Messages received and sent by command (known commands, else `other`). */
  commandsIn: Record<string, number>;
  commandsOut: Record<string, number>;
  pingMs: number | null;
  minPingMs: number | null;
  addr: {
    /** addr/addrv2 messages received. */
    messages: number;
    /** Entries in them. */
    entries: number;
    /** Core's counters (rpc source): processed and rate-limited addresses. */
    processed: number | null;
    rateLimited: number | null;
  };
  violations: number;
  flags: PeerFlags;
  state: 'open' | 'closed';
  closedUs: number | null;
  closeReason: string | null;
}

type Peer = Omit<PeerRow, 'ageSec'>;

export interface PeersTableOptions {
  /** How long a closed peer stays in the table. Default 300 s. */
  closedTtlMs?: number;
  /** Hard cap on entries, open and closed. Default 5,000. */
  maxPeers?: number;
  /** The clock, µs (tests). */
  nowUs?: () => number;
}

export interface PeersQuery {
  state?: 'open' | 'closed' | 'all';
  direction?: 'inbound' | 'outbound';
  nodeId?: string;
  /** At most this many, newest opened first. */
  limit?: number;
}

export interface PeersTableStats {
  open: number;
  closed: number;
  evictedClosed: number;
  evictedOpen: number;
  expired: number;
}

export class PeersTable {
  private readonly open = new Map<string, Peer>();
  /** Insertion order = close order, so expiry walks from the front. */
  private readonly closed = new Map<string, Peer>();
  private readonly ttlUs: number;
  private readonly maxPeers: number;
  private readonly now: () => number;
  evictedClosed = 0;
  evictedOpen = 0;
  expired = 0;

  constructor(options: PeersTableOptions = {}) {
    this.ttlUs = (options.closedTtlMs ?? 300_000) * 1000;
    this.maxPeers = options.maxPeers ?? 5_000;
    if (!Number.isInteger(this.maxPeers) || this.maxPeers < 1) throw new RangeError('maxPeers must be a positive integer');
    this.now = options.nowUs ?? (() => Date.now() * 1000);
  }

  get size(): number {
    return this.open.size + this.closed.size;
  }

  handle(event: ObserverEvent): void {
    switch (event.type) {
      case 'connection.opened': {
        const d = event.data;
        const peer = this.upsert(event, d.conn);
        peer.chain = d.network;
        peer.netgroup = d.netgroup;
        peer.openedUs = event.timeUs;
        if (d.connType) peer.connType = d.connType;
        if (d.transport === 'v2') peer.flags.v2 = true;
        if (d.transport !== 'unknown') peer.transport = d.transport;
        return;
      }
      case 'connection.closed': {
        const d = event.data;
        const key = connectionKey(event, d.conn.id);
        let peer = this.open.get(key);
        if (!peer) {
          // Refused or failed connections never opened: not peers.
          if (d.reason === 'limit' || d.reason === 'connect-failed') return;
          peer = this.upsert(event, d.conn);
          peer.openedUs = event.timeUs - d.durationMs * 1000;
        }
        this.open.delete(key);
        peer.state = 'closed';
        peer.closedUs = event.timeUs;
        peer.closeReason = d.reason;
        peer.netgroup = d.netgroup;
        if (d.transport !== undefined && d.transport !== 'unknown') peer.transport = d.transport;
        if (d.transport === 'v2') peer.flags.v2 = true;
        if (d.sessionId !== undefined) peer.sessionId = d.sessionId;
        peer.bytesIn = Math.max(peer.bytesIn, d.bytesIn);
        peer.bytesOut = Math.max(peer.bytesOut, d.bytesOut);
        peer.messagesIn = Math.max(peer.messagesIn, d.messagesIn);
        peer.messagesOut = Math.max(peer.messagesOut, d.messagesOut);
        peer.flags.handshakeComplete ||= d.handshakeComplete;
        this.closed.set(key, peer);
        this.expire();
        return;
      }
      case 'message': {
        const d = event.data;
        const peer = this.existing(event, d.conn.id);
        if (!peer) return;
        const command = commandLabel(d.command);
        if (d.dir === 'in') {
          peer.messagesIn++;
          peer.bytesIn += d.size + HEADER_BYTES;
          peer.commandsIn[command] = (peer.commandsIn[command] ?? 0) + 1;
          if (d.known && (d.command === 'addr' || d.command === 'addrv2')) {
            peer.addr.messages++;
            peer.addr.entries += summaryOf(d)?.count ?? 0;
          } else if (command === 'sendaddrv2') peer.flags.addrV2 = true;
          else if (command === 'wtxidrelay') peer.flags.wtxidRelay = true;
        } else {
          peer.messagesOut++;
          peer.bytesOut += d.size + HEADER_BYTES;
          peer.commandsOut[command] = (peer.commandsOut[command] ?? 0) + 1;
        }
        return;
      }
      case 'handshake.version': {
        const d = event.data;
        const peer = this.existing(event, d.conn.id);
        if (!peer) return;
        peer.userAgent = d.userAgent;
        peer.version = d.version;
        peer.services = d.services;
        peer.serviceNames = d.serviceNames.slice(0, 64);
        peer.startHeight = d.startHeight;
        peer.timeOffsetSec = d.timeOffsetSec;
        peer.flags.relay = d.relay;
        return;
      }
      case 'handshake.complete': {
        const d = event.data;
        const peer = this.existing(event, d.conn.id);
        if (!peer) return;
        peer.flags.handshakeComplete = true;
        peer.flags.addrV2 ||= d.addrV2;
        peer.flags.wtxidRelay ||= d.wtxidRelay;
        if (d.userAgent !== undefined) peer.userAgent = d.userAgent;
        if (d.version !== undefined) peer.version = d.version;
        if (d.startHeight !== undefined) peer.startHeight = d.startHeight;
        if (d.connType !== undefined) peer.connType = d.connType;
        if (d.transport === 'v2') peer.flags.v2 = true;
        if (d.transport !== undefined && d.transport !== 'unknown') peer.transport = d.transport;
        if (d.sessionId !== undefined) peer.sessionId = d.sessionId;
        return;
      }
      case 'ping.latency': {
        const peer = this.existing(event, event.data.conn.id);
        if (!peer) return;
        peer.pingMs = event.data.latencyMs;
        peer.minPingMs = peer.minPingMs === null ? event.data.latencyMs : Math.min(peer.minPingMs, event.data.latencyMs);
        return;
      }
      case 'violation': {
        const peer = this.existing(event, event.data.conn.id);
        if (!peer) return;
        peer.violations++;
        if (event.data.kind === 'v2-transport') peer.flags.v2 = true;
        return;
      }
      case 'peer.stats': {
        const d = event.data;
        const peer = this.open.get(connectionKey(event, d.conn.id)) ?? this.upsert(event, d.conn);
        peer.connType = d.connType;
        peer.chain = d.network;
        peer.netgroup = d.netgroup;
        peer.userAgent = d.userAgent;
        peer.version = d.version;
        peer.services = d.services;
        peer.startHeight = d.startHeight;
        peer.timeOffsetSec = d.timeOffsetSec;
        peer.openedUs = d.connTime * 1_000_000;
        peer.bytesIn = d.bytesIn;
        peer.bytesOut = d.bytesOut;
        peer.pingMs = d.pingMs;
        peer.minPingMs = d.minPingMs;
        peer.addr.processed = d.addrProcessed;
        peer.addr.rateLimited = d.addrRateLimited;
        peer.flags.relay = d.relayTxes;
        if (d.transport === 'v2') peer.flags.v2 = true;
        if (d.transport !== 'unknown') peer.transport = d.transport;
        return;
      }
      default:
        return;
    }
  }

  /** Snapshot rows (copies), newest opened first. */
  peers(query: PeersQuery = {}): PeerRow[] {
    this.expire();
    const now = this.now();
    const state = query.state ?? 'open';
    const rows: PeerRow[] = [];
    const take = (m: Map<string, Peer>) => {
      for (const p of m.values()) {
        if (query.direction && p.direction !== query.direction) continue;
        if (query.nodeId && p.nodeId !== query.nodeId) continue;
        rows.push(row(p, now));
      }
    };
    if (state !== 'closed') take(this.open);
    if (state !== 'open') take(this.closed);
    rows.sort((a, b) => b.openedUs - a.openedUs || b.id - a.id);
    return query.limit !== undefined ? rows.slice(0, query.limit) : rows;
  }

  peer(key: string): PeerRow | undefined {
    this.expire();
    const p = this.open.get(key) ?? this.closed.get(key);
    return p ? row(p, this.now()) : undefined;
  }

  stats(): PeersTableStats {
    return {
      open: this.open.size,
      closed: this.closed.size,
      evictedClosed: this.evictedClosed,
      evictedOpen: this.evictedOpen,
      expired: this.expired,
    };
  }

  private existing(event: ObserverEvent, id: number): Peer | undefined {
    const key = connectionKey(event, id);
    return this.open.get(key) ?? this.closed.get(key);
  }

  private upsert(event: ObserverEvent, conn: { id: number; direction: string; remote: string }): Peer {
    const key = connectionKey(event, conn.id);
    const found = this.open.get(key);
    if (found) return found;
    this.closed.delete(key);
    this.makeRoom();
    const peer: Peer = {
      key,
      id: conn.id,
      nodeId: event.nodeId,
      source: event.source,
      address: conn.remote,
      direction: conn.direction,
      network: addressNetwork(conn.remote),
      netgroup: '',
      chain: null,
      connType: null,
      transport: 'unknown',
      sessionId: null,
      userAgent: null,
      version: null,
      services: null,
      serviceNames: [],
      startHeight: null,
      timeOffsetSec: null,
      openedUs: event.timeUs,
      bytesIn: 0,
      bytesOut: 0,
      messagesIn: 0,
      messagesOut: 0,
      commandsIn: {},
      commandsOut: {},
      pingMs: null,
      minPingMs: null,
      addr: { messages: 0, entries: 0, processed: null, rateLimited: null },
      violations: 0,
      flags: { handshakeComplete: false, addrV2: false, wtxidRelay: false, relay: null, v2: false },
      state: 'open',
      closedUs: null,
      closeReason: null,
    };
    this.open.set(key, peer);
    return peer;
  }

  private makeRoom(): void {
    while (this.open.size + this.closed.size >= this.maxPeers) {
      const oldestClosed = this.closed.keys().next();
      if (!oldestClosed.done) {
        this.closed.delete(oldestClosed.value);
        this.evictedClosed++;
        continue;
      }
      const oldestOpen = this.open.keys().next();
      if (oldestOpen.done) return;
      this.open.delete(oldestOpen.value);
      this.evictedOpen++;
    }
  }

  private expire(): void {
    const cutoff = this.now() - this.ttlUs;
    for (const [key, p] of this.closed) {
      if ((p.closedUs ?? 0) > cutoff) break;
      this.closed.delete(key);
      this.expired++;
    }
  }
}

function row(p: Peer, nowUs: number): PeerRow {
  const end = p.closedUs ?? nowUs;
  return {
    ...p,
    serviceNames: [...p.serviceNames],
    commandsIn: { ...p.commandsIn },
    commandsOut: { ...p.commandsOut },
    addr: { ...p.addr },
    flags: { ...p.flags },
    ageSec: Math.max(0, Math.round((end - p.openedUs) / 1e3) / 1e3),
  };
}

export interface PeersConsumer {
  table: PeersTable;
  subscription: Subscription;
  done: Promise<void>;
}

export function startPeersTable(bus: Bus, options: PeersTableOptions & { nodeIds?: readonly string[] } = {}): PeersConsumer {
  const table = new PeersTable(options);
  const subscription = bus.subscribe({ types: PEERS_EVENT_TYPES, ...(options.nodeIds ? { nodeIds: options.nodeIds } : {}) });
  const done = (async () => {
    for await (const event of subscription) table.handle(event);
  })();
  return { table, subscription, done };
}
