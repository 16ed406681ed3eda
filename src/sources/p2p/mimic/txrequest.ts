/**
 * Requesting the transactions a peer announces, as Bitcoin Core does
 * (node/txdownloadman_impl.cpp AddTxAnnouncement and GetRequestsToSend,
 * txrequest.cpp): per-peer delays and limits, one getdata per round, requests
 * that expire. What arrives is recorded by the peer's message events and goes
 * nowhere else: the mimic never relays a transaction.
 *
 * Across peers (TxRequestTracker, txrequest.h), with a shared registry: a
 * transaction is requested from one peer at a time; the others that announced
 * it wait until that request ends. A notfound, an expiry or the peer leaving
 * lets the waiting ones ask (Core picks the best candidate by preference and a
 * random priority; here the first whose round comes); a transaction received
 * from anyone is forgotten by all (ForgetTxHash once the mempool has decided).
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
  /** Due, but another peer has the request in flight (CANDIDATE_DELAYED behind REQUESTED). */
  blocked?: boolean;
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
  /** Shared by the peers of one node: one request per transaction at a time (absent: per peer only). */
  registry?: TxRequestRegistry;
}

/** Which peer has each transaction's request in flight, and who waits for it. Bounded by the peers' announcements. */
export class TxRequestRegistry {
  private readonly owners = new Map<string, TxRequests>();
  private readonly waiters = new Map<string, Set<TxRequests>>();

  get inFlight(): number {
    return this.owners.size;
  }

  /** The request may go to `who` (nobody else has it in flight); it is then `who`'s. */
  claim(key: string, who: TxRequests): boolean {
    const owner = this.owners.get(key);
    if (owner && owner !== who) {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      set.add(who);
      return false;
    }
    this.owners.set(key, who);
    return true;
  }

  /** `who`'s request ended: `received` (everyone forgets it) or not (the waiting peers may ask). */
  release(key: string, who: TxRequests, received: boolean): void {
    if (this.owners.get(key) === who) this.owners.delete(key);
    else if (!received) return;
    const set = this.waiters.get(key);
    this.waiters.delete(key);
    for (const w of set ?? []) w.released(key, received);
  }

  /** `who` no longer waits for `key` (it forgot the announcement or left). */
  unwait(key: string, who: TxRequests): void {
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(who);
    if (set.size === 0) this.waiters.delete(key);
  }
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
    const registry = this.options.registry;
    if (registry)
      for (const [key, a] of this.announced_) {
        if (a.expiryMs !== undefined) registry.release(key, this, false);
        else if (a.blocked) registry.unwait(key, this);
      }
    this.announced_.clear();
  }

  /** The registry: another peer's request for `key` ended. */
  released(key: string, received: boolean): void {
    const a = this.announced_.get(key);
    if (!a || !a.blocked) return;
    if (received) this.announced_.delete(key);
    else {
      a.blocked = false;
      this.arm();
    }
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
      if (a.blocked) continue;
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
          this.options.registry?.release(key, this, false);
        }
      } else if (!a.blocked && a.reqTimeMs <= now) due.push([key, a]);
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
      if (this.options.registry && !this.options.registry.claim(key, this)) {
        a.blocked = true; // another peer's request is in flight: wait for it to end
        continue;
      }
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
    for (const key of [hashToHex(txid(tx)), hashToHex(wtxid(tx))]) {
      this.forget(key, true);
      // Forgotten by every peer that announced it, whoever had the request (ForgetTxHash).
      this.options.registry?.release(key, this, true);
    }
  }

  notFound(items: readonly InvItem[]): void {
    for (const i of items) this.forget(hashToHex(i.hash), false);
  }

  private forget(key: string, received: boolean): void {
    const a = this.announced_.get(key);
    if (!a) return;
    if (a.expiryMs !== undefined) {
      this.inFlight--;
      this.options.registry?.release(key, this, received);
    } else if (a.blocked) this.options.registry?.unwait(key, this);
    this.announced_.delete(key);
  }
}
