/**
 * getpeerinfo → events. Each poll is compared with the previous one: a peer
 * whose (id, addr, conntime) is new is a connection.opened, one that is gone is
 * a connection.closed (Core does not say why: reason `unknown`), and every
 * peer present gets a peer.stats with Core's counters. A restarted node reuses
 * ids from 0, which is why the key is more than the id.
 */
import type { ConnRef, PeerStats } from '../../events/types.js';
import type { NetworkName } from '../../protocol/networks.js';
import { directionOfConnType, netgroupOfAddr, transportOf, type CoreSink } from '../core/common.js';
import { peerExtrasOf } from './node-extras.js';
import type { PeerInfo } from './schemas.js';

interface Known {
  key: string;
  info: PeerInfo;
  conn: ConnRef;
}

function keyOf(p: PeerInfo): string {
  return `${p.id}|${p.addr}|${p.conntime}`;
}

function connTypeOf(p: PeerInfo): string {
  return p.connection_type ?? (p.inbound ? 'inbound' : 'outbound-full-relay');
}

function connOf(p: PeerInfo): ConnRef {
  return {
    id: p.id,
    direction: p.connection_type ? directionOfConnType(p.connection_type) : p.inbound ? 'inbound' : 'outbound',
    remote: p.addr,
  };
}

/** Seconds (Core) → milliseconds, null when absent. */
function ms(sec: number | undefined): number | null {
  return sec === undefined ? null : Math.round(sec * 1e6) / 1e3;
}

export function peerStatsOf(p: PeerInfo, network: NetworkName): PeerStats {
  return {
    conn: connOf(p),
    connType: connTypeOf(p),
    transport: transportOf(p.transport_protocol_type ?? 'v1'),
    network,
    netgroup: netgroupOfAddr(p.addr),
    version: p.version,
    userAgent: p.subver,
    services: BigInt(`0x${p.services}`).toString(),
    startHeight: p.startingheight ?? null,
    syncedBlocks: p.synced_blocks ?? null,
    connTime: p.conntime,
    timeOffsetSec: p.timeoffset ?? 0,
    pingMs: ms(p.pingtime),
    minPingMs: ms(p.minping),
    bytesIn: p.bytesrecv,
    bytesOut: p.bytessent,
    bytesInPerMsg: p.bytesrecv_per_msg ?? {},
    bytesOutPerMsg: p.bytessent_per_msg ?? {},
    addrProcessed: p.addr_processed ?? null,
    addrRateLimited: p.addr_rate_limited ?? null,
    addrRelayEnabled: p.addr_relay_enabled ?? null,
    relayTxes: p.relaytxes ?? null,
    permissions: p.permissions ?? [],
    extras: peerExtrasOf(p),
  };
}

export class PeerDiff {
  private known = new Map<number, Known>();
  opened = 0;
  closed = 0;

  constructor(private readonly sink: CoreSink) {}

  get size(): number {
    return this.known.size;
  }

  /** Apply one getpeerinfo answer; emits opened/closed and one peer.stats per peer. */
  apply(peers: PeerInfo[], network: NetworkName, nowUs: number, stats = true): void {
    const next = new Map<number, Known>();
    const fresh: Known[] = [];
    for (const info of peers) {
      const key = keyOf(info);
      const prev = this.known.get(info.id);
      const entry: Known = prev && prev.key === key ? { ...prev, info } : { key, info, conn: connOf(info) };
      if (!prev || prev.key !== key) fresh.push(entry);
      next.set(info.id, entry);
    }
    // Closings first: a reused id (node restart) closes the old peer before the new opens.
    for (const [id, prev] of this.known) {
      const now = next.get(id);
      if (!now || now.key !== prev.key) this.emitClosed(prev, network, nowUs);
    }
    for (const entry of fresh) {
      const p = entry.info;
      this.opened++;
      this.sink.emit(
        'connection.opened',
        {
          conn: entry.conn,
          local: p.addrbind ?? '',
          network,
          netgroup: netgroupOfAddr(p.addr),
          transport: transportOf(p.transport_protocol_type ?? 'v1'),
          connType: connTypeOf(p),
        },
        nowUs,
      );
    }
    if (stats) for (const p of peers) this.sink.emit('peer.stats', peerStatsOf(p, network), nowUs);
    this.known = next;
  }

  private emitClosed(prev: Known, network: NetworkName, nowUs: number): void {
    const p = prev.info;
    this.closed++;
    this.sink.emit(
      'connection.closed',
      {
        conn: prev.conn,
        network,
        netgroup: netgroupOfAddr(p.addr),
        reason: 'unknown',
        detail: 'no longer in getpeerinfo',
        durationMs: Math.max(0, nowUs / 1000 - p.conntime * 1000),
        handshakeComplete: p.version > 0,
        bytesIn: p.bytesrecv,
        bytesOut: p.bytessent,
        messagesIn: 0,
        messagesOut: 0,
        connType: connTypeOf(p),
      },
      nowUs,
    );
  }
}
