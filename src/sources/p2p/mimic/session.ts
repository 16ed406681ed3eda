/**
 * One peer's side of the mimic node: what Bitcoin Core would answer and send to
 * this peer, with the backend's chain and mempool behind it. Peer (peer.ts)
 * still owns the socket, the handshake gate, pings and events; it hands each
 * message here and sends what comes back. Everything sent comes from the
 * backend, never from another peer.
 *
 * Each rule names the Core function it follows (net_processing.cpp unless
 * said otherwise).
 */
import { decode, encode } from '../../../protocol/codec.js';
import { CODECS } from '../../../protocol/messages/index.js';
import { blockHeader } from '../../../protocol/messages/common.js';
import { hashToHex, hexToHash } from '../../../protocol/hash.js';
import { FEEFILTER_VERSION, MAX_HEADERS_RESULTS, SENDHEADERS_VERSION } from '../../../protocol/limits.js';
import { SERVICES } from '../../../protocol/services.js';
import { INV_TYPE, type BlockLocator, type InvItem, type Message, type Tx, type Version } from '../../../protocol/messages/types.js';
import type { ConnDirection } from '../../../events/types.js';
import type { Backend, ChainTip, NodeAddress } from '../../backend/backend.js';
import { blockHash, txid as txidOf, wtxid as wtxidOf } from '../../../protocol/messages/ids.js';
import { FeeFilterRounder, maybeFeefilter, type FeeFilterState } from './feefilter.js';
import { TxRequests, type TxRequestRegistry } from './txrequest.js';
import type { BlockBudget } from './budget.js';
import { buildCmpctBlock } from './compact.js';
import { toAddr, toAddrV2 } from './addrmsg.js';
import { AddrSender } from './selfaddr.js';
import { advertisedServices } from './version.js';
import { enteredBefore, InvRounds, type InboundInvTimer, type RecentBlockTxs } from './txserve.js';

/** CBlockLocator serializes this constant as its version (CBlockLocator::DUMMY_VERSION). */
export const LOCATOR_DUMMY_VERSION = 70016;
/** getblocks answers at most this many block hashes (ProcessMessage GETBLOCKS nLimit). */
export const GETBLOCKS_LIMIT = 500;
/** Blocks announced by headers at once (MAX_BLOCKS_TO_ANNOUNCE). */
export const MAX_BLOCKS_TO_ANNOUNCE = 8;
/** A cmpctblock is served for getdata(MSG_CMPCT_BLOCK) within this depth of the tip (MAX_CMPCTBLOCK_DEPTH). */
export const MAX_CMPCTBLOCK_DEPTH = 5;
/** getblocktxn is answered for blocks within this depth (MAX_BLOCKTXN_DEPTH). */
export const MAX_BLOCKTXN_DEPTH = 10;
/** net.cpp MAX_ADDR_TO_SEND / MAX_PCT_ADDR_TO_SEND: the getaddr answer. */
export const MAX_ADDR_TO_SEND = 1000;
export const MAX_PCT_ADDR_TO_SEND = 23;

/** A block a tip change connected: its hash, 80-byte header and parent (hex). */
export interface ConnectedBlock {
  hex: string;
  raw: Uint8Array;
  prevHex: string | null;
}

export interface MimicPeerIo {
  readonly direction: ConnDirection;
  send(m: Message): void;
  disconnect(reason: 'limit' | 'protocol-violation', detail: string): void;
  readonly closed: boolean;
  readonly complete: boolean;
  /** The peer's version message (after it arrived). */
  readonly version: Version | undefined;
  readonly wtxidRelay: boolean;
  readonly addrV2: boolean;
}

export interface MimicShared {
  backend: Backend;
  budget: BlockBudget;
  /** We speak BIP324 v2 (then NODE_P2P_V2 is advertised). */
  v2: boolean;
  rounder(): FeeFilterRounder;
  /** NextInvToInbounds' shared timer (announcement rounds, which gate getdata for transactions). */
  inboundInv: InboundInvTimer;
  /** m_most_recent_block_txs. */
  recentBlock: RecentBlockTxs;
  /** The getaddr answer (m_addr_response_caches), drawn from the backend's address list `from`. */
  addrCache: { current?: { from: readonly NodeAddress[]; sample: NodeAddress[] } };
  /** Our own addresses to advertise (`--external-address`, Core's -externalip), as getnodeaddresses entries. */
  externalAddresses: readonly Omit<NodeAddress, 'time' | 'services'>[];
  /** TxRequestTracker's one-request-per-transaction across peers. */
  txRegistry: TxRequestRegistry;
  /** The hashes (hex, oldest first, at most MAX_BLOCKS_TO_ANNOUNCE) the last tip change connected. */
  counters: MimicCounters;
}

export interface MimicCounters {
  headersServed: number;
  blocksServed: number;
  blockBytesServed: number;
  cmpctBlocksServed: number;
  blockTxnServed: number;
  txServed: number;
  notFound: number;
  announcementsHeaders: number;
  announcementsInv: number;
  announcementsCmpct: number;
  txRequested: number;
  getaddrAnswered: number;
  getaddrIgnored: number;
  budgetRefusals: number;
  backendErrors: number;
}

export function newMimicCounters(): MimicCounters {
  return {
    headersServed: 0,
    blocksServed: 0,
    blockBytesServed: 0,
    cmpctBlocksServed: 0,
    blockTxnServed: 0,
    txServed: 0,
    notFound: 0,
    announcementsHeaders: 0,
    announcementsInv: 0,
    announcementsCmpct: 0,
    txRequested: 0,
    getaddrAnswered: 0,
    getaddrIgnored: 0,
    budgetRefusals: 0,
    backendErrors: 0,
  };
}

const BLOCK_TYPES: ReadonlySet<number> = new Set([
  INV_TYPE.block,
  INV_TYPE.witnessBlock,
  INV_TYPE.cmpctBlock,
  INV_TYPE.filteredBlock,
  INV_TYPE.filteredWitnessBlock,
]);
const TX_TYPES: ReadonlySet<number> = new Set([INV_TYPE.tx, INV_TYPE.witnessTx, INV_TYPE.wtx]);

export class MimicSession {
  /** The peer sent sendheaders (m_prefers_headers). */
  private prefersHeaders = false;
  /** sendcmpct(1, 2): the peer wants high-bandwidth compact blocks (m_requested_hb_cmpctblocks). */
  private hbCompact = false;
  /** sendcmpct(_, 2) seen: the peer understands compact blocks (m_provides_cmpctblocks). */
  private providesCmpct = false;
  private sentSendheaders = false;
  private getaddrSeen = false;
  private readonly addrSender = new AddrSender();
  private addrTimer: NodeJS.Timeout | undefined;
  private syncStarted = false;
  /** Block hashes (hex) the peer is known to have headers for: what it sent, what we sent. Bounded. */
  private readonly known = new Set<string>();
  /** The peer's best known block height (pindexBestKnownBlock) on the backend chain, -1 unknown. */
  private bestKnownHeight = -1;
  /** getblocks' m_continuation_block. */
  private continuation: string | undefined;
  private readonly feefilter: FeeFilterState = { sent: undefined, nextSendMs: 0 };
  private feefilterTimer: NodeJS.Timeout | undefined;
  readonly txRequests: TxRequests;
  /** Our transaction-announcement rounds to this peer (m_next_inv_send_time, m_last_inv_sequence). */
  private readonly invRounds: InvRounds;

  constructor(
    private readonly shared: MimicShared,
    private readonly io: MimicPeerIo,
  ) {
    this.invRounds = new InvRounds(io.direction === 'inbound' ? shared.inboundInv : undefined);
    this.txRequests = new TxRequests({
      inbound: io.direction === 'inbound',
      request: (items) => {
        shared.counters.txRequested += items.length;
        io.send({ command: 'getdata', payload: { items } });
      },
      closed: () => io.closed,
      registry: shared.txRegistry,
    });
  }

  /** The peer asked for high-bandwidth compact blocks. */
  get wantsCompact(): boolean {
    return this.hbCompact && this.io.complete && !this.io.closed;
  }

  private get common(): number {
    return Math.min(this.io.version?.version ?? 0, this.shared.backend.identity?.protocolVersion ?? 0);
  }

  close(): void {
    clearTimeout(this.feefilterTimer);
    clearTimeout(this.addrTimer);
    this.txRequests.close();
  }

  private remember(hex: string): void {
    if (this.known.size >= 64) this.known.delete(this.known.values().next().value as string);
    this.known.add(hex);
  }

  /**
   * After our sendcmpct on verack: SendMessages' first round after the ping
   * (Peer sends it): getheaders when the peer can serve blocks and our best
   * header is recent (initial headers sync), then feefilter (MaybeSendFeefilter).
   */
  async afterHandshake(): Promise<void> {
    this.invRounds.start(Date.now());
    // ProcessMessage(VERSION): SetupAddressRelay for an outbound (full-relay) peer at once; inbound peers
    // wait until they send addr, addrv2 or getaddr.
    if (this.io.direction !== 'inbound') {
      this.addrSender.enable();
      this.maybeSendAddr();
    }
    const backend = this.shared.backend;
    const tip = backend.tip;
    const services = this.io.version?.services ?? 0n;
    // CanServeBlocks: NODE_NETWORK or NODE_NETWORK_LIMITED.
    const canServe = (services & (SERVICES.NODE_NETWORK | SERVICES.NODE_NETWORK_LIMITED)) !== 0n;
    // "Only actively request headers from a single peer, unless we're close to today": the backend's best
    // header within 24 h; m_best_header is the tip here. We never take part in a sync ourselves, so nSyncStarted
    // is the backend's business; being close to today is the case that matters on a live network.
    if (!this.syncStarted && canServe && tip && tip.header.time > Date.now() / 1000 - 24 * 3600) {
      this.syncStarted = true;
      // "start at the block preceding the currently best known header"
      const start = tip.prevHex !== null ? tip.height - 1 : tip.height;
      const locator = await this.locator(start);
      if (!this.io.closed)
        this.io.send({ command: 'getheaders', payload: { version: LOCATOR_DUMMY_VERSION, locator, stop: new Uint8Array(32) } });
    }
    await this.maybeFeefilter();
  }

  /** CChain::GetLocator (LocatorEntries): the tip and 10 blocks one by one, then doubling steps back, then genesis. */
  private async locator(height: number): Promise<Uint8Array[]> {
    const heights: number[] = [];
    let step = 1;
    for (let h = height; ;) {
      heights.push(h);
      if (h === 0) break;
      h = Math.max(h - step, 0);
      if (heights.length > 10) step *= 2;
    }
    const hexes = await this.shared.backend.hashesAtHeights(heights);
    return hexes.filter((h): h is string => h !== undefined).map(hexToHash);
  }

  /** MaybeSendFeefilter, and its timer for the next round. */
  private async maybeFeefilter(): Promise<void> {
    clearTimeout(this.feefilterTimer);
    const identity = this.shared.backend.identity;
    if (this.io.closed || !identity) return;
    // m_opts.ignore_incoming_txs (-blocksonly), the common version, block-relay-only connections.
    if (!identity.relay || this.common < FEEFILTER_VERSION) return;
    let minFee: bigint;
    try {
      minFee = BigInt(await this.shared.backend.mempoolMinFee());
    } catch {
      this.shared.counters.backendErrors++;
      minFee = BigInt(identity.minRelayFee);
    }
    if (this.io.closed) return;
    const value = maybeFeefilter(this.feefilter, {
      nowMs: Date.now(),
      minFee,
      minRelayFee: BigInt(identity.minRelayFee),
      ibd: identity.ibd,
      rounder: this.shared.rounder(),
    });
    if (value !== undefined) this.io.send({ command: 'feefilter', payload: { feeRate: value } });
    const wait = Math.max(1000, Math.min(this.feefilter.nextSendMs - Date.now(), 60_000));
    this.feefilterTimer = setTimeout(() => void this.maybeFeefilter(), wait).unref();
  }

  /**
   * A message the mimic answers. Returns false when it is not one of ours (the
   * minimal node's handling applies).
   */
  async handle(m: Message): Promise<boolean> {
    try {
      return await this.answer(m);
    } catch {
      // The backend is unreachable and the cache did not hold the answer: nothing is sent (Core, too, leaves a
      // request it cannot serve unanswered), counted; the peer stays.
      this.shared.counters.backendErrors++;
      return true;
    }
  }

  private async answer(m: Message): Promise<boolean> {
    if ('unknown' in m) return false;
    switch (m.command) {
      case 'getheaders':
        await this.getheaders(m.payload);
        return true;
      case 'getblocks':
        await this.getblocks(m.payload);
        return true;
      case 'getdata':
        await this.getdata(m.payload.items);
        return true;
      case 'getblocktxn':
        await this.getblocktxn(m.payload.blockHash, m.payload.indexes);
        return true;
      case 'getaddr':
        await this.getaddr();
        return true;
      case 'addr':
      case 'addrv2':
        // SetupAddressRelay for an inbound peer; the addresses themselves are recorded, never relayed.
        if (this.io.direction === 'inbound' && !this.addrSender.relayEnabled) {
          this.addrSender.enable();
          this.maybeSendAddr();
        }
        return false;
      case 'sendheaders':
        // ProcessMessage(SENDHEADERS): m_prefers_headers.
        this.prefersHeaders = true;
        return true;
      case 'sendcmpct':
        // ProcessMessage(SENDCMPCT): only version 2 counts; announce=1 asks for high-bandwidth mode.
        if (m.payload.version === 2n) {
          this.providesCmpct = true;
          this.hbCompact = m.payload.announce;
        }
        return true;
      case 'headers':
        await this.peerHeaders(
          m.payload.headers.length ? hashToHex(blockHash(m.payload.headers[m.payload.headers.length - 1]!)) : undefined,
        );
        return true;
      case 'inv':
        await this.inv(m.payload.items);
        return true;
      case 'notfound':
        this.txRequests.notFound(m.payload.items);
        return true;
      case 'tx':
        this.txRequests.received(m.payload);
        return true;
      default:
        return false;
    }
  }

  // ---- chain ----

  /** ProcessMessage(GETHEADERS). */
  private async getheaders(p: BlockLocator): Promise<void> {
    const backend = this.shared.backend;
    const tip = backend.tip;
    if (!tip) {
      // "active chain has too little work; sending empty response"
      this.io.send({ command: 'headers', payload: { headers: [] } });
      return;
    }
    const stopHex = hashToHex(p.stop);
    const isNull = p.stop.every((b) => b === 0);
    let hexes: string[];
    if (p.locator.length === 0) {
      // "If locator is null, return the hashStop block" (nothing when unknown).
      if (isNull) return;
      const h = await backend.header(stopHex);
      if (!h) return;
      hexes = [stopHex];
    } else {
      const fork = await backend.forkPoint(p.locator);
      hexes = await backend.hashesAt(fork + 1, fork + MAX_HEADERS_RESULTS);
      const stopAt = hexes.indexOf(stopHex);
      if (!isNull && stopAt >= 0) hexes = hexes.slice(0, stopAt + 1);
    }
    const raws = await backend.headersOf(hexes);
    if (this.io.closed) return;
    const headers = raws.map((r) => decode(blockHeader, r));
    // pindexBestHeaderSent: the last header sent, or our tip when we sent none.
    this.remember(hexes[raws.length - 1] ?? tip.hex);
    this.shared.counters.headersServed += headers.length;
    this.io.send({ command: 'headers', payload: { headers } });
  }

  /** ProcessMessage(GETBLOCKS): up to 500 block hashes after the fork point, stopping before hashStop. */
  private async getblocks(p: BlockLocator): Promise<void> {
    const backend = this.shared.backend;
    if (!backend.tip) return;
    const fork = await backend.forkPoint(p.locator);
    const hexes = await backend.hashesAt(fork + 1, fork + GETBLOCKS_LIMIT);
    const stopHex = hashToHex(p.stop);
    const out: InvItem[] = [];
    for (const hex of hexes) {
      if (hex === stopHex) break;
      out.push({ type: INV_TYPE.block, hash: hexToHash(hex) });
      if (out.length >= GETBLOCKS_LIMIT) {
        // "When this block is requested, we'll send an inv that'll trigger the peer to getblocks the next batch"
        this.continuation = hex;
        break;
      }
    }
    if (out.length && !this.io.closed) this.io.send({ command: 'inv', payload: { items: out } });
  }

  /**
   * ProcessGetData: transactions at the front of the request are answered from
   * the backend's mempool, then one block (ProcessGetBlockData); the rest of the
   * request waits for the next round, which for us is right after. Missing
   * transactions are answered with one notfound at the end.
   */
  private async getdata(items: readonly InvItem[]): Promise<void> {
    const notFound: InvItem[] = [];
    for (const item of items) {
      if (this.io.closed) return;
      if (TX_TYPES.has(item.type)) {
        const tx = await this.mempoolTx(item);
        if (tx) {
          this.shared.counters.txServed++;
          // A tx asked for as MSG_TX is sent without witness (TX_NO_WITNESS), else with.
          this.io.send({ command: 'tx', payload: item.type === INV_TYPE.tx ? stripWitness(tx) : tx });
        } else notFound.push(item);
      } else if (BLOCK_TYPES.has(item.type)) {
        await this.blockData(item);
      }
    }
    if (notFound.length && !this.io.closed) {
      this.shared.counters.notFound += notFound.length;
      this.io.send({ command: 'notfound', payload: { items: notFound } });
    }
  }

  /**
   * FindTxForGetData: from the backend's mempool if the transaction entered it
   * before our last announcement round to this peer (see txserve.ts), else from
   * the most recent block. MSG_WTX asks by wtxid, which the RPC cannot look up:
   * the backend maps it to the txid (equal for transactions without witness).
   */
  private async mempoolTx(item: InvItem): Promise<Tx | undefined> {
    const backend = this.shared.backend;
    const hex = hashToHex(item.hash);
    try {
      const txidHex = item.type === INV_TYPE.wtx ? ((await backend.mempoolTxidOf(hex)) ?? hex) : hex;
      const entry = await backend.mempoolEntry(txidHex);
      if (entry) {
        const tx = decode(CODECS.tx, entry.raw);
        // A MSG_WTX that named a txid of a witness transaction is no match (Core looks up by the id type asked).
        if (item.type === INV_TYPE.wtx && txidHex === hex && hashToHex(wtxidOf(tx)) !== hex) return undefined;
        if (enteredBefore(entry.time, this.invRounds.lastRound(Date.now()))) return tx;
        return undefined;
      }
      const tip = backend.tip;
      if (!tip) return undefined;
      const raw = await backend.block(tip.hex);
      if (!raw) return undefined;
      this.shared.recentBlock.set(tip.hex, raw);
      const tx = this.shared.recentBlock.get(hex);
      // By the id type asked: MSG_WTX by wtxid, MSG_TX / MSG_WITNESS_TX by txid.
      if (!tx) return undefined;
      const id = hashToHex(item.type === INV_TYPE.wtx ? wtxidOf(tx) : txidOf(tx));
      return id === hex ? tx : undefined;
    } catch {
      this.shared.counters.backendErrors++;
      return undefined;
    }
  }

  /** ProcessGetBlockData. */
  private async blockData(item: InvItem): Promise<void> {
    const backend = this.shared.backend;
    const hex = hashToHex(item.hash);
    let header;
    try {
      header = await backend.header(hex);
    } catch {
      this.shared.counters.backendErrors++;
      return;
    }
    const tip = backend.tip;
    if (!header || !tip) return; // "if (!pindex) return"
    const identity = backend.identity!;
    const services = identity.services;
    // "Avoid leaking prune-height": NODE_NETWORK_LIMITED without NODE_NETWORK serves only the last 288 (+2) blocks.
    if (
      (services & SERVICES.NODE_NETWORK_LIMITED) !== 0n &&
      (services & SERVICES.NODE_NETWORK) === 0n &&
      tip.height - header.height > 288 + 2
    ) {
      this.io.disconnect('protocol-violation', 'block request below NODE_NETWORK_LIMITED threshold');
      return;
    }
    if (item.type === INV_TYPE.filteredBlock || item.type === INV_TYPE.filteredWitnessBlock) return; // no bloom filter loaded: nothing sent
    let raw: Uint8Array | undefined;
    try {
      raw = await backend.block(hex);
    } catch {
      this.shared.counters.backendErrors++;
      return;
    }
    if (!raw || this.io.closed) return;
    // The upload budget, as Core's -maxuploadtarget: historical blocks (older than a week behind the best header)
    // past the budget disconnect the peer ("historical block serving limit reached").
    const historical = tip.header.time - decode(blockHeader, raw.subarray(0, 80)).time > 7 * 24 * 3600;
    const verdict = this.shared.budget.charge(this, raw.length, historical);
    if (verdict !== 'ok') {
      this.shared.counters.budgetRefusals++;
      this.io.disconnect('limit', `block serving budget reached (${verdict}): historical block serving limit reached`);
      return;
    }
    const block = decode(CODECS.block, raw);
    if (item.type === INV_TYPE.cmpctBlock && this.common >= 70014 && tip.height - header.height <= MAX_CMPCTBLOCK_DEPTH) {
      // "If a peer is asking for old blocks, we're almost guaranteed they won't have a useful mempool to match
      // against a compact block, and we don't feel like constructing the object for them, so instead we respond
      // with the full, non-compact block."
      this.shared.counters.cmpctBlocksServed++;
      this.io.send({ command: 'cmpctblock', payload: buildCmpctBlock(block) });
    } else {
      this.shared.counters.blocksServed++;
      this.shared.counters.blockBytesServed += raw.length;
      this.io.send({
        command: 'block',
        payload: item.type === INV_TYPE.block ? { header: block.header, txs: block.txs.map(stripWitness) } : block,
      });
    }
    this.remember(hex);
    if (hex === this.continuation) {
      // "Send immediately. This must send even if redundant, and we want it right after the last block so they don't
      // wait for other stuff first."
      this.continuation = undefined;
      this.io.send({ command: 'inv', payload: { items: [{ type: INV_TYPE.block, hash: tip.hash }] } });
    }
  }

  /** ProcessMessage(GETBLOCKTXN): recent blocks only; older ones are answered with the whole block. */
  private async getblocktxn(hash: Uint8Array, indexes: readonly number[]): Promise<void> {
    const backend = this.shared.backend;
    const hex = hashToHex(hash);
    const header = await backend.header(hex).catch(() => undefined);
    const tip = backend.tip;
    if (!header || !tip) return;
    const raw = await backend.block(hex).catch(() => undefined);
    if (!raw || this.io.closed) return;
    if (tip.height - header.height >= MAX_BLOCKTXN_DEPTH) {
      // "Peer ... sent us a getblocktxn for a block > 10 deep": the full block is sent (ProcessGetBlockData with MSG_WITNESS_BLOCK).
      return this.blockData({ type: INV_TYPE.witnessBlock, hash });
    }
    const block = decode(CODECS.block, raw);
    const txs: Tx[] = [];
    for (const i of indexes) {
      const tx = block.txs[i];
      if (!tx) {
        // "getblocktxn with out-of-bounds tx indices": Misbehaving, which disconnects.
        this.io.disconnect('protocol-violation', 'getblocktxn with out-of-bounds tx indices');
        return;
      }
      txs.push(tx);
    }
    const payload = { blockHash: hash, txs };
    // Block transactions count against the same budgets as blocks (Core counts every byte toward its upload target).
    const verdict = this.shared.budget.charge(this, encode(CODECS.blocktxn, payload).length, false);
    if (verdict !== 'ok') {
      this.shared.counters.budgetRefusals++;
      this.io.disconnect('limit', `block serving budget reached (${verdict}): blocktxn refused`);
      return;
    }
    this.shared.counters.blockTxnServed++;
    this.io.send({ command: 'blocktxn', payload });
  }

  /**
   * ProcessMessage(GETADDR): outbound peers are ignored (fingerprinting), an
   * inbound peer is answered once per connection, from the cached sample
   * (CConnman::GetAddresses: at most 1000 and 23 % of the known addresses).
   */
  private async getaddr(): Promise<void> {
    if (this.io.direction !== 'inbound') {
      this.shared.counters.getaddrIgnored++;
      return;
    }
    this.addrSender.enable(); // SetupAddressRelay, before the "repeated getaddr" check
    if (this.getaddrSeen) {
      this.shared.counters.getaddrIgnored++;
      this.maybeSendAddr();
      return;
    }
    this.getaddrSeen = true;
    let all;
    try {
      all = await this.shared.backend.addresses();
    } catch {
      this.shared.counters.backendErrors++;
      return;
    }
    // CConnman::GetAddresses(requestor, ...): one sample per cache lifetime, the same for every requestor
    // (Core keys the cache by the requestor's network and our local socket; we have one for all).
    const cached = this.shared.addrCache.current;
    const sample = cached && cached.from === all ? cached.sample : sampleAddresses(all, this.shared.backend);
    this.shared.addrCache.current = { from: all, sample };
    if (this.io.closed) return;
    if (sample.length) this.shared.counters.getaddrAnswered++;
    this.addrSender.answer(sample);
    this.maybeSendAddr();
  }

  /** MaybeSendAddr (selfaddr.ts): the getaddr answer and our own address, on Core's schedule. */
  private maybeSendAddr(): void {
    clearTimeout(this.addrTimer);
    if (this.io.closed) return;
    const identity = this.shared.backend.identity;
    const ours = this.shared.externalAddresses[0];
    const local =
      ours && identity
        ? { ...ours, time: Math.floor(Date.now() / 1000), services: advertisedServices(identity, this.shared.v2) }
        : undefined;
    const now = Date.now();
    const r = this.addrSender.tick(now, local, identity?.ibd ?? true);
    if (r.send) {
      // IsAddrCompatible: what the peer's message cannot carry is left out.
      const m = this.io.addrV2 ? toAddrV2(r.send) : toAddr(r.send);
      if (m.payload.entries.length) this.io.send(m);
    }
    if (Number.isFinite(r.wakeAt))
      this.addrTimer = setTimeout(() => this.maybeSendAddr(), Math.min(Math.max(r.wakeAt - now, 1000), 2 ** 31 - 1)).unref();
  }

  /** Headers the peer sent: they update its best known block (UpdateBlockAvailability) and may start sendheaders. */
  private async peerHeaders(lastHex: string | undefined): Promise<void> {
    if (!lastHex) return;
    const h = await this.shared.backend.header(lastHex).catch(() => undefined);
    if (!h) return;
    this.remember(lastHex);
    if (h.height > this.bestKnownHeight) this.bestKnownHeight = h.height;
    this.maybeSendSendheaders();
  }

  /**
   * MaybeSendSendHeaders: once the peer's best known block has more work than
   * the minimum chain work (any block on regtest; a synced peer on mainnet),
   * ask it to announce blocks with headers. Sent once.
   */
  private maybeSendSendheaders(): void {
    if (this.sentSendheaders || this.bestKnownHeight < 0 || this.common < SENDHEADERS_VERSION) return;
    this.sentSendheaders = true;
    this.io.send({ command: 'sendheaders', payload: {} });
  }

  private async inv(items: readonly InvItem[]): Promise<void> {
    const txs: InvItem[] = [];
    let lastBlock: string | undefined;
    for (const i of items) {
      if (i.type === INV_TYPE.block) lastBlock = hashToHex(i.hash);
      else if (i.type === INV_TYPE.tx || i.type === INV_TYPE.wtx) txs.push(i);
    }
    if (txs.length && this.shared.backend.identity?.relay !== false && !this.shared.backend.identity?.ibd)
      this.txRequests.announced(txs, this.io.wtxidRelay, (i) => this.backendHas(i));
    if (lastBlock) await this.peerHeaders(lastBlock);
  }

  /** AlreadyHaveTx, asked of the backend's mempool (txid lookups only). */
  private async backendHas(item: InvItem): Promise<boolean> {
    try {
      // AlreadyHaveTx looks the mempool up by the id announced: a wtxid is mapped to its txid first.
      const hex = hashToHex(item.hash);
      const txidHex = item.type === INV_TYPE.wtx ? ((await this.shared.backend.mempoolTxidOf(hex)) ?? hex) : hex;
      return (await this.shared.backend.mempoolTx(txidHex)) !== undefined;
    } catch {
      return false;
    }
  }

  // ---- announcements ----

  /**
   * SendMessages' block announcement for a new backend tip: `connected` are the
   * blocks the tip change connected, oldest first (at most 8). Headers to a
   * peer that asked for them when they connect to what it knows; one block as a
   * cmpctblock to a high-bandwidth peer (NewPoWValidBlock / header-and-ids);
   * else an inv of the tip.
   */
  announce(
    tip: ChainTip,
    connected: readonly ConnectedBlock[],
    block: (() => Promise<Message | undefined>) | undefined,
  ): Promise<void> | void {
    if (this.io.closed || !this.io.complete) return;
    let revertToInv =
      (!this.prefersHeaders && (!this.hbCompact || connected.length > 1)) ||
      connected.length > MAX_BLOCKS_TO_ANNOUNCE ||
      connected.length === 0;
    const send: ConnectedBlock[] = [];
    if (!revertToInv) {
      let found = false;
      for (const c of connected) {
        if (found) send.push(c);
        else if (this.known.has(c.hex)) continue;
        else if (c.prevHex === null || this.known.has(c.prevHex)) {
          found = true;
          send.push(c);
        } else {
          revertToInv = true;
          break;
        }
      }
    }
    if (!revertToInv && send.length) {
      if (send.length === 1 && this.hbCompact && block) {
        this.remember(send[0]!.hex);
        this.shared.counters.announcementsCmpct++;
        return block().then((m) => {
          if (m && !this.io.closed) this.io.send(m);
        });
      }
      if (this.prefersHeaders) {
        for (const c of send) this.remember(c.hex);
        this.shared.counters.announcementsHeaders++;
        this.io.send({ command: 'headers', payload: { headers: send.map((c) => decode(blockHeader, c.raw)) } });
        return;
      }
      revertToInv = true;
    }
    if (revertToInv && !this.known.has(tip.hex)) {
      this.shared.counters.announcementsInv++;
      this.io.send({ command: 'inv', payload: { items: [{ type: INV_TYPE.block, hash: tip.hash }] } });
    }
  }
}

function stripWitness(tx: Tx): Tx {
  if (!tx.witnesses) return tx;
  const { witnesses: _w, ...rest } = tx;
  return rest;
}

/** CConnman::GetAddresses(max 1000, 23 %): a random sample of what the backend knows. */
function sampleAddresses(all: readonly NodeAddress[], _backend: Backend): NodeAddress[] {
  const n = Math.min(MAX_ADDR_TO_SEND, Math.floor((all.length * MAX_PCT_ADDR_TO_SEND) / 100));
  const copy = all.slice();
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}
