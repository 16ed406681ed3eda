/**
 * What the three sources that watch a Bitcoin Core node (rpc, log, usdt) share:
 * event emission under their source name, Core's address text → netgroup, and
 * the per-peer state that turns Core's peer ids into our connection events.
 */
import type { EventSink } from '../../events/sink.js';
import type { ConnRef, Transport } from '../../events/types.js';
import { netgroupOf } from '../../protocol/address.js';

export type CoreSourceName = 'rpc' | 'log' | 'usdt';

/** Events under one Core source's name (events/sink.ts). */
export type CoreSink = EventSink<CoreSourceName>;

/** The host part of Core's `addr` text: `1.2.3.4:8333`, `[2001:db8::1]:8333`, `xyz.onion:8333`. */
export function hostOf(addr: string): string {
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    return close > 0 ? addr.slice(1, close) : addr;
  }
  const at = addr.lastIndexOf(':');
  return at > 0 && addr.indexOf(':') === at ? addr.slice(0, at) : addr;
}

/** Core's network group of a peer address as Core prints it; 'unknown' when it is no address we know. */
export function netgroupOfAddr(addr: string): string {
  try {
    return netgroupOf(hostOf(addr));
  } catch {
    return 'unknown';
  }
}

export function transportOf(text: string | undefined): Transport {
  return text === 'v1' || text === 'v2' ? text : 'unknown';
}

/** What a Core source knows about one peer of the node between its opening and its closing. */
export interface CorePeer {
  conn: ConnRef;
  connType: string | undefined;
  openedUs: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  handshakeComplete: boolean;
  wtxidRelay: boolean;
  addrV2: boolean;
  /** From the log's "receive version message". */
  version?: number;
  userAgent?: string;
  startHeight?: number;
}

export function newCorePeer(conn: ConnRef, connType: string | undefined, openedUs: number): CorePeer {
  return {
    conn,
    connType,
    openedUs,
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    handshakeComplete: false,
    wtxidRelay: false,
    addrV2: false,
  };
}

/** Core's `direction` from its connection type. */
export function directionOfConnType(connType: string): 'inbound' | 'outbound' {
  return connType === 'inbound' ? 'inbound' : 'outbound';
}

/**
 * A bounded map of live peers: Core keeps at most a few hundred, but a log or a
 * trace from a hostile or broken node must not make us grow without bound. The
 * oldest entry is dropped (and counted) past the limit.
 */
export class PeerTable {
  private readonly peers = new Map<number, CorePeer>();
  evicted = 0;

  constructor(private readonly max = 4096) {}

  get(id: number): CorePeer | undefined {
    return this.peers.get(id);
  }
  set(peer: CorePeer): void {
    this.peers.delete(peer.conn.id);
    this.peers.set(peer.conn.id, peer);
    while (this.peers.size > this.max) {
      const oldest = this.peers.keys().next().value as number;
      this.peers.delete(oldest);
      this.evicted++;
    }
  }
  delete(id: number): void {
    this.peers.delete(id);
  }
  get size(): number {
    return this.peers.size;
  }
  values(): IterableIterator<CorePeer> {
    return this.peers.values();
  }
}

/** A sleep that ends early (resolving) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
