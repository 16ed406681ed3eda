/**
 * Relay analytics per connection, from message events: addr/addrv2 entries by
 * address network each way, transaction announcements received, transaction
 * requests we sent, transactions received, and of those the ones nobody asked
 * for (no getdata of ours outstanding) and the ones the peer never announced
 * (judged only while every entry it announced was visible: an inv bigger than
 * its event's sample of SUMMARY_ITEMS hides the rest, and counting stops).
 *
 * Domain state only: fed one event at a time, read by key, pruned to the
 * connections still present. Bounded: at most `maxPeers` connections (the
 * oldest forgotten first, counted) and MAX_ANNOUNCED hashes each.
 */
import { summaryOf, type AddrEntry } from '../../events/message-summary.js';
import type { MessageEvent } from '../../events/types.js';
import { addrEntryNetwork } from '../metrics/labels.js';

/** Per-peer relay counters beyond the peers table. */
export interface RelayCounts {
  /** addr/addrv2 entries by address network, received and sent. */
  addrIn: Record<string, number>;
  addrOut: Record<string, number>;
  /** Transaction announcements (inv entries of tx types) received, and getdata tx entries we sent. */
  invTxIn: number;
  getdataTxOut: number;
  txIn: number;
  /** tx received with no getdata of ours outstanding. */
  unsolicited: number;
  /** tx received whose txid/wtxid the peer never announced (only counted while we saw every entry it announced). */
  unannounced: number;
  /** false once an inv was bigger than its event's sample, so `unannounced` stops counting. */
  announcedComplete: boolean;
}

interface RelayState extends RelayCounts {
  /** Transaction hashes the peer announced, the last MAX_ANNOUNCED. */
  announced: Set<string>;
  /** Transaction entries we requested and have not yet received. */
  requested: number;
}

/** Announced hashes remembered per connection. */
export const MAX_ANNOUNCED = 512;
/** Inventory types that name a transaction. */
const TX_TYPES: ReadonlySet<string> = new Set(['tx', 'wtx', 'witness_tx']);

function bump(m: Record<string, number>, k: string, n = 1): void {
  m[k] = (m[k] ?? 0) + n;
}

export const emptyRelayCounts = (): RelayCounts => ({
  addrIn: {},
  addrOut: {},
  invTxIn: 0,
  getdataTxOut: 0,
  txIn: 0,
  unsolicited: 0,
  unannounced: 0,
  announcedComplete: true,
});

export interface RelayTrackerOptions {
  /** Most connections tracked; the least recently created is forgotten first. Default 10,000. */
  maxPeers?: number;
}

export class RelayTracker {
  private readonly peers = new Map<string, RelayState>();
  private readonly maxPeers: number;
  /** Connections forgotten to stay within maxPeers. */
  evicted = 0;

  constructor(o: RelayTrackerOptions = {}) {
    this.maxPeers = o.maxPeers ?? 10_000;
  }

  get size(): number {
    return this.peers.size;
  }

  /** One message event of connection `key`. */
  observe(key: string, d: MessageEvent): void {
    if (!d.known) return;
    const interesting =
      d.command === 'addr' || d.command === 'addrv2' || d.command === 'inv' || d.command === 'getdata' || d.command === 'tx';
    if (!interesting) return;
    const r = this.stateOf(key);
    if (d.command === 'addr' || d.command === 'addrv2') {
      const entries: AddrEntry[] = summaryOf(d)?.entries ?? [];
      for (const entry of entries) bump(d.dir === 'in' ? r.addrIn : r.addrOut, addrEntryNetwork(entry));
    } else if (d.command === 'inv' && d.dir === 'in') {
      const inv = summaryOf(d);
      if (!inv) return;
      for (const [t, n] of Object.entries(inv.types)) if (TX_TYPES.has(t)) r.invTxIn += n;
      if (inv.count > inv.items.length) r.announcedComplete = false;
      for (const it of inv.items) {
        if (!TX_TYPES.has(it.type)) continue;
        if (r.announced.size >= MAX_ANNOUNCED) r.announced.delete(r.announced.values().next().value!);
        r.announced.add(it.hash);
      }
    } else if (d.command === 'getdata' && d.dir === 'out') {
      const getdata = summaryOf(d);
      if (!getdata) return;
      for (const [t, n] of Object.entries(getdata.types)) {
        if (!TX_TYPES.has(t)) continue;
        r.getdataTxOut += n;
        r.requested += n;
      }
    } else if (d.command === 'tx' && d.dir === 'in') {
      r.txIn++;
      if (r.requested > 0) r.requested--;
      else r.unsolicited++;
      const tx = summaryOf(d);
      // Without a summary (a log source) the hashes are unknown: announced or not cannot be told.
      if (!tx) return;
      const known = r.announced.has(tx.txid) || r.announced.has(tx.wtxid);
      if (!known && r.announcedComplete) r.unannounced++;
    }
  }

  /** The counters of connection `key` (zeros when it relayed nothing of interest). */
  counts(key: string): RelayCounts {
    const r = this.peers.get(key);
    if (!r) return emptyRelayCounts();
    const { announced: _announced, requested: _requested, ...counts } = r;
    return counts;
  }

  /** Forget every connection not in `present` (the peers table's keys at a tick). */
  retain(present: ReadonlySet<string>): void {
    for (const k of this.peers.keys()) if (!present.has(k)) this.peers.delete(k);
  }

  private stateOf(key: string): RelayState {
    let r = this.peers.get(key);
    if (r) return r;
    if (this.peers.size >= this.maxPeers) {
      this.peers.delete(this.peers.keys().next().value!);
      this.evicted++;
    }
    r = { ...emptyRelayCounts(), announced: new Set(), requested: 0 };
    this.peers.set(key, r);
    return r;
  }
}
