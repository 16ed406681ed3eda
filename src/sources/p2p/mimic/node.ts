/**
 * The mimic node: the backend (sources/backend), the block budget and every
 * peer's MimicSession, and the one job that spans peers: announcing the
 * backend's new tips to all of them (net_processing UpdatedBlockTip queues the
 * connected blocks for every peer, SendMessages announces them; NewPoWValidBlock
 * sends the compact block to high-bandwidth peers, built once for all).
 */
import { InboundInvTimer, RecentBlockTxs } from './txserve.js';
import { localAddress } from './selfaddr.js';
import { TxRequestRegistry } from './txrequest.js';
import { decode } from '../../../protocol/codec.js';
import { CODECS } from '../../../protocol/messages/index.js';
import { hashToHex } from '../../../protocol/hash.js';
import type { Message } from '../../../protocol/messages/types.js';
import type { Backend, ChainTip, NodeAddress } from '../../backend/backend.js';
import { BlockBudget, type BudgetOptions } from './budget.js';
import { buildCmpctBlock } from './compact.js';
import { FeeFilterRounder } from './feefilter.js';
import { MAX_BLOCKS_TO_ANNOUNCE, MimicSession, newMimicCounters, type MimicCounters, type MimicPeerIo } from './session.js';

export interface MimicOptions {
  /** We speak BIP324 v2 (NODE_P2P_V2 is advertised only then): run's --v2 (default on). */
  v2?: boolean;
  budget?: BudgetOptions;
  /** Our own addresses to advertise (`--external-address`): the first is pushed to peers as Core's AdvertiseLocal. */
  externalAddresses?: readonly { host: string; port: number }[];
}

export interface AnnounceRound {
  tip: ChainTip;
  peers: number;
  /** performance.now() when the backend's new tip was seen, and when the last peer's announcement went out. */
  seenMs: number;
  doneMs: number;
}

export class MimicNode {
  readonly counters: MimicCounters = newMimicCounters();
  readonly budget: BlockBudget;
  readonly v2: boolean;
  private readonly sessions = new Set<MimicSession>();
  private rounderFor: { fee: number; rounder: FeeFilterRounder } | undefined;
  private readonly inboundInv = new InboundInvTimer();
  private readonly recentBlock = new RecentBlockTxs();
  private readonly addrCache = {};
  private readonly txRegistry = new TxRequestRegistry();
  private readonly externalAddresses: readonly Omit<NodeAddress, 'time' | 'services'>[];
  /** Tips announced recently (hex), so a jump announces only what is new. */
  private readonly announced: string[] = [];
  private announcing: Promise<void> = Promise.resolve();
  /** Called after each tip's announcements went out (benchmarks, tests). */
  onAnnounced: ((round: AnnounceRound) => void) | undefined;

  constructor(
    readonly backend: Backend,
    options: MimicOptions = {},
  ) {
    this.v2 = options.v2 ?? false;
    this.budget = new BlockBudget(options.budget);
    this.externalAddresses = (options.externalAddresses ?? []).map((a) => localAddress(a.host, a.port));
  }

  get peers(): number {
    return this.sessions.size;
  }

  session(io: MimicPeerIo): MimicSession {
    const s = new MimicSession(
      {
        backend: this.backend,
        budget: this.budget,
        v2: this.v2,
        counters: this.counters,
        rounder: () => this.rounder(),
        inboundInv: this.inboundInv,
        recentBlock: this.recentBlock,
        addrCache: this.addrCache,
        externalAddresses: this.externalAddresses,
        txRegistry: this.txRegistry,
      },
      io,
    );
    this.sessions.add(s);
    return s;
  }

  release(s: MimicSession): void {
    s.close();
    this.sessions.delete(s);
  }

  private rounder(): FeeFilterRounder {
    const fee = this.backend.identity?.incrementalFee ?? 100;
    if (this.rounderFor?.fee !== fee) this.rounderFor = { fee, rounder: new FeeFilterRounder(fee) };
    return this.rounderFor.rounder;
  }

  /** The backend has a new tip: announce it to every peer, one round at a time, in order. */
  tipChanged(tip: ChainTip): void {
    this.announcing = this.announcing
      .then(() => this.announce(tip))
      .catch(() => {
        this.counters.backendErrors++;
      });
  }

  private async announce(tip: ChainTip): Promise<void> {
    // "Don't relay old inventory during initial block download" (UpdatedBlockTip).
    if (this.backend.identity?.ibd) return;
    const from = Math.max(0, tip.height - MAX_BLOCKS_TO_ANNOUNCE + 1);
    let hexes = await this.backend.hashesAt(from, tip.height);
    if (hexes[hexes.length - 1] !== tip.hex) hexes = [tip.hex];
    const lastKnown = hexes.findLastIndex((h) => this.announced.includes(h));
    hexes = hexes.slice(lastKnown + 1);
    const raws = await this.backend.headersOf(hexes);
    const connected = hexes.slice(0, raws.length).map((hex, i) => ({ hex, raw: raws[i]!, prevHex: hashToHex(raws[i]!.subarray(4, 36)) }));
    for (const h of hexes) {
      this.announced.push(h);
      if (this.announced.length > 32) this.announced.shift();
    }
    let cmpct: Promise<Message | undefined> | undefined;
    const block = (): Promise<Message | undefined> =>
      (cmpct ??= this.backend
        .block(tip.hex)
        .then((raw) => (raw ? ({ command: 'cmpctblock', payload: buildCmpctBlock(decode(CODECS.block, raw)) } as Message) : undefined)));
    // NewPoWValidBlock sends the compact block to high-bandwidth peers before UpdatedBlockTip's announcements:
    // those peers go first, as from Core.
    const sessions = [...this.sessions];
    const hb = sessions.filter((s) => s.wantsCompact);
    if (hb.length) {
      await block();
      await Promise.all(hb.map((s) => s.announce(tip, connected, block)));
    }
    const waits: Promise<void>[] = [];
    for (const s of sessions) {
      if (hb.includes(s)) continue;
      const w = s.announce(tip, connected, block);
      if (w) waits.push(w);
    }
    await Promise.all(waits);
    this.onAnnounced?.({ tip, peers: this.sessions.size, seenMs: tip.seenMs, doneMs: performance.now() });
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = { peers: this.sessions.size };
    for (const [k, v] of Object.entries(this.counters)) out[k] = v;
    for (const [k, v] of Object.entries(this.backend.stats())) out[`backend.${k}`] = v;
    out['budget.refusedPeer'] = this.budget.refusedPeer;
    out['budget.refusedGlobal'] = this.budget.refusedGlobal;
    out['budget.bytesCharged'] = this.budget.bytesCharged;
    return out;
  }
}
