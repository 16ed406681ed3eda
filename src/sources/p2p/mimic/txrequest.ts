/**
 * Requesting the transactions a peer announces, as Bitcoin Core does
 * (node/txdownloadman_impl.cpp AddTxAnnouncement and GetRequestsToSend,
 * txrequest.cpp): per-peer delays and limits, one getdata per round, requests
 * that expire. What arrives is recorded by the peer's message events and goes
 * nowhere else: the mimic never relays a transaction.
 *
 * Unlike Core, announcements are tracked per peer only (Core also avoids asking
 * two peers for the same transaction at once).
 */
import { hashToHex } from '../../../protocol/hash.js';
import { txid, wtxid } from '../../../protocol/messages/ids.js';
import { INV_TYPE, type InvItem, type Tx } from '../../../protocol/messages/types.js';

/** txdownloadman.h */
export const MAX_PEER_TX_REQUEST_IN_FLIGHT = 100;
export const MAX_PEER_TX_ANNOUNCEMENTS = 5000;
export const TXID_RELAY_DELAY_MS = 2000;
export const NONPREF_PEER_TX_DELAY_MS = 2000;
export const OVERLOADED_PEER_TX_DELAY_MS = 2000;
export const GETDATA_TX_INTERVAL_MS = 60_000;
/** protocol.h MSG_WITNESS_FLAG: txid requests to a witness peer ask for the witness serialization (GetFetchFlags). */
const MSG_WITNESS_FLAG = 1 << 30;

interface Announcement {
  wtxid: boolean;
  reqTimeMs: number;
  /** Set when requested: when the request expires. */
  expiryMs?: number;
}

export interface TxRequestOptions {
  /** Inbound peers are not preferred (fPreferredDownload is for outbound ones): NONPREF_PEER_TX_DELAY. */
  inbound: boolean;
  request(items: InvItem[]): void;
  closed(): boolean;
  /** Whether any of our peers relays by wtxid (m_num_wtxid_peers > 0). */
  wtxidPeers?: () => boolean;
  /** The peer announced witness support (NODE_WITNESS): txid requests carry MSG_WITNESS_FLAG. */
  witness?: () => boolean;
  now?: () => number;
}

export class TxRequests {
  private readonly announced_ = new Map<string, Announcement>();
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Announcements dropped because the peer had MAX_PEER_TX_ANNOUNCEMENTS queued. */
  dropped = 0;
  requested = 0;
  received_ = 0;
  expired = 0;

  constructor(private readonly options: TxRequestOptions) {}

  private now(): number {
    return this.options.now ? this.options.now() : performance.now();
  }

  get pending(): number {
    return this.announced_.size;
  }

  close(): void {
    clearTimeout(this.timer);
    this.announced_.clear();
  }

  /**
   * AddTxAnnouncement for each item (`has`: the backend already has it, AlreadyHaveTx, asked when the request is due).
   * `wtxidRelay`: the peer negotiated wtxidrelay (its MSG_WTX items count; MSG_TX ones are ignored from it and vice versa).
   */
  announced(items: readonly InvItem[], wtxidRelay: boolean, has: (item: InvItem) => Promise<boolean>): void {
    const now = this.now();
    for (const item of items) {
      // ProcessMessage(INV): a wtxidrelay peer's MSG_TX and a non-wtxidrelay peer's MSG_WTX are ignored.
      if ((item.type === INV_TYPE.wtx) !== wtxidRelay) continue;
      const key = hashToHex(item.hash);
      if (this.announced_.has(key)) continue;
      if (this.announced_.size >= MAX_PEER_TX_ANNOUNCEMENTS) {
        this.dropped++;
        continue;
      }
      let delay = 0;
      if (this.options.inbound) delay += NONPREF_PEER_TX_DELAY_MS;
      if (item.type !== INV_TYPE.wtx && (this.options.wtxidPeers?.() ?? wtxidRelay)) delay += TXID_RELAY_DELAY_MS;
      if (this.inFlight >= MAX_PEER_TX_REQUEST_IN_FLIGHT) delay += OVERLOADED_PEER_TX_DELAY_MS;
      this.announced_.set(key, { wtxid: item.type === INV_TYPE.wtx, reqTimeMs: now + delay });
    }
    this.has = has;
    this.arm();
  }

  private has: (item: InvItem) => Promise<boolean> = () => Promise.resolve(false);

  private arm(): void {
    let next = Infinity;
    for (const a of this.announced_.values()) {
      const t = a.expiryMs ?? a.reqTimeMs;
      if (t < next) next = t;
    }
    if (next === Infinity || next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => void this.round(), Math.max(0, next - this.now())).unref();
  }

  /** GetRequestsToSend: expire old requests, request what is due and not already had. */
  private async round(): Promise<void> {
    this.timerAt = Infinity;
    if (this.options.closed()) return;
    const now = this.now();
    const due: [string, Announcement][] = [];
    for (const [key, a] of this.announced_) {
      if (a.expiryMs !== undefined) {
        if (a.expiryMs <= now) {
          // "timeout of inflight tx": forgotten (Core would try another announcer).
          this.announced_.delete(key);
          this.inFlight--;
          this.expired++;
        }
      } else if (a.reqTimeMs <= now) due.push([key, a]);
    }
    const items: InvItem[] = [];
    for (const [key, a] of due) {
      const hash = Buffer.from(key, 'hex').reverse();
      const item: InvItem = { type: a.wtxid ? INV_TYPE.wtx : INV_TYPE.tx, hash: new Uint8Array(hash) };
      if (await this.has(item)) {
        this.announced_.delete(key);
        continue;
      }
      if (!this.announced_.has(key)) continue;
      a.expiryMs = now + GETDATA_TX_INTERVAL_MS;
      this.inFlight++;
      items.push({
        type: a.wtxid ? INV_TYPE.wtx : INV_TYPE.tx | (this.options.witness?.() !== false ? MSG_WITNESS_FLAG : 0),
        hash: item.hash,
      });
    }
    if (items.length && !this.options.closed()) {
      this.requested += items.length;
      this.options.request(items);
    }
    this.arm();
  }

  /** A tx arrived: the request (by txid or wtxid) is answered. */
  received(tx: Tx): void {
    this.received_++;
    for (const key of [hashToHex(txid(tx)), hashToHex(wtxid(tx))]) this.forget(key);
  }

  notFound(items: readonly InvItem[]): void {
    for (const i of items) this.forget(hashToHex(i.hash));
  }

  private forget(key: string): void {
    const a = this.announced_.get(key);
    if (!a) return;
    if (a.expiryMs !== undefined) this.inFlight--;
    this.announced_.delete(key);
  }
}
