/**
 * Which transactions a peer may fetch with getdata, as Core decides in
 * FindTxForGetData (net_processing.cpp):
 *
 * - a mempool transaction only if it entered the mempool before this peer's
 *   last transaction-announcement round ("trickle", SendMessages, which sets
 *   m_last_inv_sequence): a spy cannot learn of a transaction through us before
 *   we would have announced it. We never announce transactions, but the rounds
 *   still run on Core's schedule: the first right after the handshake, then for
 *   inbound peers at NextInvToInbounds (a Poisson timer, mean
 *   INBOUND_INVENTORY_BROADCAST_INTERVAL, shared by the inbound peers), for
 *   outbound ones every OUTBOUND_INVENTORY_BROADCAST_INTERVAL on average;
 * - or a transaction of the most recent block (m_most_recent_block_txs), by
 *   txid or wtxid.
 *
 * The backend's RPC gives a mempool entry's time in whole seconds, not Core's
 * sequence number: a transaction is served when its whole second ended before
 * the round, so within that second we say notfound where Core might serve.
 */
import { decode } from '../../../protocol/codec.js';
import { CODECS } from '../../../protocol/messages/index.js';
import { hashToHex } from '../../../protocol/hash.js';
import { txid, wtxid } from '../../../protocol/messages/ids.js';
import type { Tx } from '../../../protocol/messages/types.js';

/** net_processing.cpp INBOUND_INVENTORY_BROADCAST_INTERVAL. */
export const INBOUND_INVENTORY_BROADCAST_INTERVAL_MS = 5000;
/** net_processing.cpp OUTBOUND_INVENTORY_BROADCAST_INTERVAL. */
export const OUTBOUND_INVENTORY_BROADCAST_INTERVAL_MS = 2000;

/** An exponentially distributed delay with this mean (FastRandomContext::rand_exp_duration). */
export function expDelay(meanMs: number, random: () => number = Math.random): number {
  return -Math.log1p(-random()) * meanMs;
}

/**
 * PeerManagerImpl::NextInvToInbounds: one timer for the inbound peers, so they
 * all announce at once and a spy with many connections learns no more than with
 * one. Core keeps one per network (m_network_key); we keep one for all.
 */
export class InboundInvTimer {
  private timer = 0;
  constructor(private readonly random: () => number = Math.random) {}

  next(at: number): number {
    // "if (timer < now) timer = now + rand_exp_duration(average_interval)"; <= so that time always moves on.
    if (this.timer <= at) this.timer = at + expDelay(INBOUND_INVENTORY_BROADCAST_INTERVAL_MS, this.random);
    return this.timer;
  }
}

/** One peer's announcement rounds (TxRelay::m_next_inv_send_time), evaluated lazily on wall-clock ms. */
export class InvRounds {
  private last = -Infinity;
  private nextAt = 0;
  constructor(
    private readonly inbound: InboundInvTimer | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  /** The handshake completed: SendMessages' first round runs now (m_next_inv_send_time starts at 0). */
  start(now: number): void {
    if (this.nextAt !== 0) return;
    this.last = now;
    this.nextAt = this.schedule(now);
  }

  /** When the last round ran, as of `now` (-Infinity before the handshake). */
  lastRound(now: number): number {
    if (this.nextAt === 0) return -Infinity;
    while (this.nextAt < now) {
      this.last = this.nextAt;
      this.nextAt = this.schedule(this.nextAt);
    }
    return this.last;
  }

  private schedule(at: number): number {
    return this.inbound ? this.inbound.next(at) : at + expDelay(OUTBOUND_INVENTORY_BROADCAST_INTERVAL_MS, this.random);
  }
}

/** A mempool entry may be served after a round at `roundMs` (entry time in whole seconds; see above). */
export function enteredBefore(entryTimeSec: number, roundMs: number): boolean {
  return (entryTimeSec + 1) * 1000 <= roundMs;
}

/** The transactions of the most recent block by txid and wtxid (hex), for one block at a time. */
export class RecentBlockTxs {
  private hex: string | undefined;
  private txs = new Map<string, Tx>();

  /** Index `raw` (the block `blockHex`) unless it is the one indexed already. */
  set(blockHex: string, raw: Uint8Array): void {
    if (this.hex === blockHex) return;
    const block = decode(CODECS.block, raw);
    const txs = new Map<string, Tx>();
    for (const tx of block.txs) {
      txs.set(hashToHex(txid(tx)), tx);
      txs.set(hashToHex(wtxid(tx)), tx);
    }
    this.hex = blockHex;
    this.txs = txs;
  }

  get(hashHex: string): Tx | undefined {
    return this.txs.get(hashHex);
  }
}
