/**
 * The mimic honeypot's backend: the Bitcoin Core node named by --rpc-url, read
 * over JSON-RPC. It knows the node's identity (what its version message says),
 * follows its tip (getbestblockhash every `pollMs`), and answers the chain and
 * mempool questions peers ask, from small bounded caches first:
 * - headers: LRU by hash (80 bytes each) plus an LRU height→hash index of the
 *   active chain, dropped on a reorg;
 * - blocks: LRU bounded by bytes (getblock verbosity 0), one RPC per block even
 *   when many peers ask at once.
 * Everything it returns comes from the backend node, never from a peer.
 *
 * When the node cannot be reached, the caches keep answering what they hold,
 * `health` says why, and the poll keeps trying; the first good answer restores
 * it and refreshes the identity (the node may have been upgraded or restarted).
 */
import { decode } from '../../protocol/codec.js';
import { blockHeader } from '../../protocol/messages/common.js';
import type { BlockHeader } from '../../protocol/messages/types.js';
import { hashToHex, hexToHash } from '../../protocol/hash.js';
import { RpcMethodError, type RpcClient } from '../rpc/client.js';
import { LruBytes, LruMap } from './lru.js';

/** What Core puts in its version message, from getnetworkinfo/getblockcount (net_processing PushNodeVersion). */
export interface BackendIdentity {
  /** getnetworkinfo.protocolversion */
  protocolVersion: number;
  /** getnetworkinfo.subversion: the user agent. */
  subversion: string;
  /** getnetworkinfo.localservices (with NODE_P2P_V2 as the backend has it; the session decides what to advertise). */
  services: bigint;
  /** getnetworkinfo.localrelay: false for -blocksonly (version relay flag). */
  relay: boolean;
  /** getnetworkinfo.relayfee and incrementalfee, in sat/kvB (MaybeSendFeefilter, FeeFilterRounder). */
  minRelayFee: number;
  incrementalFee: number;
  /** getblockchaininfo.initialblockdownload */
  ibd: boolean;
}

export interface ChainTip {
  hex: string;
  hash: Uint8Array;
  height: number;
  header: BlockHeader;
  prevHex: string | null;
  /** When we saw it (performance.now()). */
  seenMs: number;
}

export interface BackendHealth {
  up: boolean;
  detail: string;
  failures: number;
}

export interface BackendCounters {
  rpcCalls: number;
  rpcBatches: number;
  rpcErrors: number;
  headerCacheHits: number;
  headerCacheMisses: number;
  blockCacheHits: number;
  blockCacheMisses: number;
  tipsSeen: number;
  identityRefreshes: number;
}

export interface BackendOptions {
  /** Poll getbestblockhash this often (default 500 ms; with `waitRpc`, a safety net beside the long poll). */
  pollMs?: number;
  /**
   * A second client for the long poll `waitfornewblock` (it holds one HTTP
   * connection while it waits): a new tip is seen the moment the node has it,
   * not at the next poll. Without it, or when the node lacks the method, polling only.
   */
  waitRpc?: RpcClient;
  /** How long one waitfornewblock call waits (default 10 s; below the client's timeout). */
  waitMs?: number;
  /** Re-read the identity this often while up (default 60 s). */
  identityRefreshMs?: number;
  headerCacheEntries?: number;
  blockCacheBytes?: number;
  /** getnodeaddresses sample kept this long (net.cpp GetAddresses caches ~21-27 h). */
  addrCacheMs?: number;
}

export interface BackendListener {
  onTip?(tip: ChainTip, previous: ChainTip | undefined): void;
  onHealth?(health: BackendHealth): void;
  onIdentity?(identity: BackendIdentity): void;
}

/** Core's RPC_INVALID_ADDRESS_OR_KEY: "Block not found", "No such mempool transaction". */
const RPC_INVALID_ADDRESS_OR_KEY = -5;

export interface NodeAddress {
  time: number;
  services: bigint;
  address: string;
  port: number;
  network: string;
}

export class Backend {
  identity: BackendIdentity | undefined;
  tip: ChainTip | undefined;
  readonly counters: BackendCounters = {
    rpcCalls: 0,
    rpcBatches: 0,
    rpcErrors: 0,
    headerCacheHits: 0,
    headerCacheMisses: 0,
    blockCacheHits: 0,
    blockCacheMisses: 0,
    tipsSeen: 0,
    identityRefreshes: 0,
  };
  health: BackendHealth = { up: false, detail: 'not started', failures: 0 };
  private readonly headers: LruMap<string, { height: number; raw: Uint8Array }>;
  private readonly heightIndex: LruMap<number, string>;
  private readonly blocks: LruBytes<string>;
  private readonly blockLoads = new Map<string, Promise<Uint8Array | undefined>>();
  private addrSample: { at: number; addresses: NodeAddress[] } | undefined;
  private addrLoad: Promise<NodeAddress[]> | undefined;
  private readonly pollMs: number;
  private readonly identityRefreshMs: number;
  private readonly addrCacheMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastIdentityMs = -Infinity;
  private polling: Promise<void> | undefined;
  private readonly waitRpc: RpcClient | undefined;
  private readonly waitMs: number;
  /** Tip changes the long poll reported (the rest were found by polling). */
  longPollWakeups = 0;

  constructor(
    private readonly rpc: RpcClient,
    options: BackendOptions = {},
    private readonly listener: BackendListener = {},
  ) {
    this.pollMs = options.pollMs ?? 500;
    this.identityRefreshMs = options.identityRefreshMs ?? 60_000;
    this.addrCacheMs = options.addrCacheMs ?? 21 * 3_600_000;
    this.waitRpc = options.waitRpc;
    this.waitMs = options.waitMs ?? 10_000;
    this.headers = new LruMap(options.headerCacheEntries ?? 20_000);
    this.heightIndex = new LruMap(options.headerCacheEntries ?? 20_000);
    this.blocks = new LruBytes(options.blockCacheBytes ?? 64 * 1024 * 1024);
  }

  /** Read the identity and tip once (throws when the node cannot be reached), then poll. */
  async start(): Promise<void> {
    await this.pollOnce(true);
    if (!this.health.up) throw new Error(`backend ${this.health.detail}`);
    this.schedule();
    if (this.waitRpc) void this.waitLoop(this.waitRpc);
  }

  /** The long poll: waitfornewblock(timeout, our tip) returns as soon as the tip is another; then poll at once. */
  private async waitLoop(rpc: RpcClient): Promise<void> {
    let withTip = true;
    while (!this.stopped) {
      try {
        const known = this.tip?.hex;
        this.counters.rpcCalls++;
        const r = (await rpc.call('waitfornewblock', withTip && known ? [this.waitMs, known] : [this.waitMs])) as { hash?: unknown } | null;
        if (this.stopped) return;
        if (r && typeof r.hash === 'string' && r.hash !== this.tip?.hex) {
          this.longPollWakeups++;
          await this.poll();
        }
      } catch (e) {
        this.counters.rpcErrors++;
        if (e instanceof RpcMethodError && e.methodNotFound) return; // an old node: polling only
        if (e instanceof RpcMethodError && withTip) {
          withTip = false; // a node without the current_tip argument (before v29)
          continue;
        }
        await new Promise((r) => setTimeout(r, this.pollMs).unref());
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Poll now (tests, and the block-announcement path wants no wait). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce(false).finally(() => (this.polling = undefined));
    return this.polling;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.pollMs).unref();
  }

  private async call(method: string, params: unknown[] = []): Promise<unknown> {
    this.counters.rpcCalls++;
    try {
      return await this.rpc.call(method, params);
    } catch (e) {
      this.counters.rpcErrors++;
      throw e;
    }
  }

  private async batch(calls: { method: string; params?: unknown[] }[]): Promise<unknown[]> {
    if (calls.length === 0) return [];
    this.counters.rpcCalls += calls.length;
    this.counters.rpcBatches++;
    try {
      return await this.rpc.callBatch(calls);
    } catch (e) {
      this.counters.rpcErrors++;
      throw e;
    }
  }

  private async pollOnce(first: boolean): Promise<void> {
    try {
      const wasUp = this.health.up;
      if (first || !wasUp || performance.now() - this.lastIdentityMs >= this.identityRefreshMs) await this.refreshIdentity();
      const best = await this.call('getbestblockhash');
      if (typeof best !== 'string' || !/^[0-9a-f]{64}$/.test(best)) throw new Error('getbestblockhash: not a block hash');
      if (best !== this.tip?.hex) await this.newTip(best);
      if (!wasUp || this.health.failures > 0) this.setHealth({ up: true, detail: 'ok', failures: 0 });
    } catch (e) {
      this.setHealth({ up: false, detail: e instanceof Error ? e.message : String(e), failures: this.health.failures + 1 });
    }
  }

  private setHealth(h: BackendHealth): void {
    const changed = h.up !== this.health.up;
    this.health = h;
    if (changed) this.listener.onHealth?.(h);
  }

  private async refreshIdentity(): Promise<void> {
    const [net, chain] = await this.batch([{ method: 'getnetworkinfo' }, { method: 'getblockchaininfo' }]);
    if (net instanceof Error) throw net;
    if (chain instanceof Error) throw chain;
    const identity = parseIdentity(net, chain);
    const before = this.identity;
    this.identity = identity;
    this.lastIdentityMs = performance.now();
    this.counters.identityRefreshes++;
    if (!before || JSON.stringify(before, bigintJson) !== JSON.stringify(identity, bigintJson)) this.listener.onIdentity?.(identity);
  }

  private async newTip(hex: string): Promise<void> {
    const [verbose, raw] = await this.batch([
      { method: 'getblockheader', params: [hex, true] },
      { method: 'getblockheader', params: [hex, false] },
    ]);
    if (verbose instanceof Error) throw verbose;
    if (raw instanceof Error) throw raw;
    const v = verbose as { height?: unknown; previousblockhash?: unknown };
    if (typeof v.height !== 'number' || !Number.isInteger(v.height) || v.height < 0) throw new Error('getblockheader: no height');
    const bytes = headerBytes(raw);
    const prevHex = typeof v.previousblockhash === 'string' ? v.previousblockhash : null;
    const previous = this.tip;
    // A tip that does not extend the one we knew: a reorg; the height index may be stale.
    if (previous && prevHex !== previous.hex) this.heightIndex.clear();
    this.headers.set(hex, { height: v.height, raw: bytes });
    this.heightIndex.set(v.height, hex);
    const tip: ChainTip = {
      hex,
      hash: hexToHash(hex),
      height: v.height,
      header: decode(blockHeader, bytes),
      prevHex,
      seenMs: performance.now(),
    };
    this.tip = tip;
    this.counters.tipsSeen++;
    // Leaving initial block download changes what we send (feefilter, announcements): re-read it with the tip.
    if (this.identity?.ibd) await this.refreshIdentity();
    this.listener.onTip?.(tip, previous);
  }

  /** The header of a block the backend knows, with its height (undefined: unknown). */
  async header(hex: string): Promise<{ height: number; raw: Uint8Array } | undefined> {
    const hit = this.headers.get(hex);
    if (hit) {
      this.counters.headerCacheHits++;
      return hit;
    }
    this.counters.headerCacheMisses++;
    const [verbose, raw] = await this.batch([
      { method: 'getblockheader', params: [hex, true] },
      { method: 'getblockheader', params: [hex, false] },
    ]);
    if (verbose instanceof RpcMethodError || raw instanceof RpcMethodError) return undefined;
    const v = verbose as { height?: unknown };
    if (typeof v.height !== 'number') return undefined;
    const entry = { height: v.height, raw: headerBytes(raw) };
    this.headers.set(hex, entry);
    return entry;
  }

  /**
   * The height of the last block on the active chain that the locator names
   * (validation FindForkInGlobalIndex: the first locator entry we know that is
   * on the active chain; the genesis block when none is).
   */
  async forkPoint(locator: readonly Uint8Array[]): Promise<number> {
    const hexes = locator.map(hashToHex);
    const unknown: string[] = [];
    for (const hex of hexes) {
      const h = this.headers.get(hex);
      if (h && this.heightIndex.get(h.height) === hex) return h.height;
      unknown.push(hex);
      if (h) break;
    }
    const answers = await this.batch(hexes.map((hex) => ({ method: 'getblockheader', params: [hex, true] })));
    for (const a of answers) {
      if (a instanceof Error || typeof a !== 'object' || a === null) continue;
      const v = a as { confirmations?: unknown; height?: unknown; hash?: unknown };
      // confirmations -1: known but not on the active chain.
      if (typeof v.confirmations === 'number' && v.confirmations >= 1 && typeof v.height === 'number' && typeof v.hash === 'string') {
        this.heightIndex.set(v.height, v.hash);
        return v.height;
      }
    }
    return 0;
  }

  /** Active-chain block hashes (hex) for heights from..to inclusive (clamped to the tip). */
  async hashesAt(from: number, to: number): Promise<string[]> {
    const top = Math.min(to, this.tip?.height ?? -1);
    if (from > top) return [];
    const missing: number[] = [];
    for (let h = from; h <= top; h++) if (this.heightIndex.get(h) === undefined) missing.push(h);
    if (missing.length) {
      const answers = await this.batch(missing.map((h) => ({ method: 'getblockhash', params: [h] })));
      answers.forEach((a, i) => {
        if (typeof a === 'string' && /^[0-9a-f]{64}$/.test(a)) this.heightIndex.set(missing[i]!, a);
      });
    }
    const out: string[] = [];
    for (let h = from; h <= top; h++) {
      const hex = this.heightIndex.get(h);
      if (hex === undefined) break;
      out.push(hex);
    }
    return out;
  }

  /** Active-chain block hashes (hex) at these heights, one batch for those not cached; undefined above the tip. */
  async hashesAtHeights(heights: readonly number[]): Promise<(string | undefined)[]> {
    const top = this.tip?.height ?? -1;
    const missing = heights.filter((h) => h <= top && this.heightIndex.get(h) === undefined);
    if (missing.length) {
      const answers = await this.batch(missing.map((h) => ({ method: 'getblockhash', params: [h] })));
      answers.forEach((a, i) => {
        if (typeof a === 'string' && /^[0-9a-f]{64}$/.test(a)) this.heightIndex.set(missing[i]!, a);
      });
    }
    return heights.map((h) => (h <= top ? this.heightIndex.get(h) : undefined));
  }

  /** Raw 80-byte headers for these hashes, fetched in one batch where not cached. */
  async headersOf(hexes: readonly string[]): Promise<Uint8Array[]> {
    const missing = hexes.filter((h) => !this.headers.get(h));
    this.counters.headerCacheHits += hexes.length - missing.length;
    this.counters.headerCacheMisses += missing.length;
    if (missing.length) {
      const answers = await this.batch(missing.flatMap((hex) => [{ method: 'getblockheader', params: [hex, true] }]));
      const raws = await this.batch(missing.map((hex) => ({ method: 'getblockheader', params: [hex, false] })));
      missing.forEach((hex, i) => {
        const v = answers[i] as { height?: unknown } | Error;
        const raw = raws[i];
        if (v instanceof Error || raw instanceof Error || typeof v?.height !== 'number') return;
        this.headers.set(hex, { height: v.height, raw: headerBytes(raw) });
      });
    }
    const out: Uint8Array[] = [];
    for (const hex of hexes) {
      const h = this.headers.get(hex);
      if (!h) break;
      out.push(h.raw);
    }
    return out;
  }

  /** A block's serialization with witnesses (getblock verbosity 0); undefined when the backend does not have it. */
  block(hex: string): Promise<Uint8Array | undefined> {
    const hit = this.blocks.get(hex);
    if (hit) {
      this.counters.blockCacheHits++;
      return Promise.resolve(hit);
    }
    const loading = this.blockLoads.get(hex);
    if (loading) {
      this.counters.blockCacheHits++;
      return loading;
    }
    this.counters.blockCacheMisses++;
    const p = (async () => {
      try {
        const r = await this.call('getblock', [hex, 0]);
        if (typeof r !== 'string' || r.length % 2 !== 0 || !/^[0-9a-f]*$/.test(r)) return undefined;
        const bytes = new Uint8Array(Buffer.from(r, 'hex'));
        this.blocks.set(hex, bytes);
        return bytes;
      } catch (e) {
        if (e instanceof RpcMethodError) return undefined;
        throw e;
      } finally {
        this.blockLoads.delete(hex);
      }
    })();
    this.blockLoads.set(hex, p);
    return p;
  }

  /**
   * A mempool transaction's serialization (with witness) by txid, and the time
   * (seconds) it entered the mempool; undefined when not in the backend's mempool.
   */
  async mempoolTx(txidHex: string): Promise<Uint8Array | undefined> {
    return (await this.mempoolEntry(txidHex))?.raw;
  }

  async mempoolEntry(txidHex: string): Promise<{ raw: Uint8Array; time: number } | undefined> {
    const [entry, raw] = await this.batch([
      { method: 'getmempoolentry', params: [txidHex] },
      { method: 'getrawtransaction', params: [txidHex, 0] },
    ]);
    // Only the mempool: with -txindex getrawtransaction would also find confirmed ones, which Core does not serve.
    if (entry instanceof RpcMethodError && entry.code === RPC_INVALID_ADDRESS_OR_KEY) return undefined;
    if (entry instanceof Error || raw instanceof Error || typeof raw !== 'string' || !/^([0-9a-f]{2})+$/.test(raw)) return undefined;
    const time = (entry as { time?: unknown } | null)?.time;
    if (typeof time !== 'number' || !Number.isFinite(time)) return undefined;
    return { raw: new Uint8Array(Buffer.from(raw, 'hex')), time };
  }

  /**
   * The txid of the mempool transaction with this wtxid (Core's mempool looks up
   * either; the RPC only by txid). From a snapshot of `getrawmempool true`, taken
   * again on a miss at most once a second, so a peer asking for random wtxids costs
   * the backend at most one such call a second. The snapshot holds only the
   * wtxid → txid pairs of witness transactions (for the others both are equal).
   */
  async mempoolTxidOf(wtxidHex: string): Promise<string | undefined> {
    const hit = this.wtxids?.map.get(wtxidHex);
    if (hit !== undefined || (this.wtxids && performance.now() - this.wtxids.at < 1000)) return hit;
    this.wtxidLoad ??= (async () => {
      try {
        const r = await this.call('getrawmempool', [true]);
        const map = new Map<string, string>();
        if (r && typeof r === 'object')
          for (const [txid, e] of Object.entries(r as Record<string, { wtxid?: unknown }>)) {
            if (typeof e?.wtxid === 'string' && e.wtxid !== txid) map.set(e.wtxid, txid);
          }
        this.wtxids = { at: performance.now(), map };
      } finally {
        this.wtxidLoad = undefined;
      }
    })();
    await this.wtxidLoad;
    return this.wtxids?.map.get(wtxidHex);
  }

  private wtxids: { at: number; map: Map<string, string> } | undefined;
  private wtxidLoad: Promise<void> | undefined;

  /**
   * getmempoolinfo.mempoolminfee in sat/kvB (MaybeSendFeefilter's currentFilter),
   * asked at most once a second however many peers' feefilter timers fire.
   */
  mempoolMinFee(): Promise<number> {
    if (this.minFee && performance.now() - this.minFee.at < 1000) return this.minFee.value;
    const value = (async () => {
      const info = (await this.call('getmempoolinfo')) as { mempoolminfee?: unknown };
      if (typeof info?.mempoolminfee !== 'number' || !Number.isFinite(info.mempoolminfee))
        throw new Error('getmempoolinfo: no mempoolminfee');
      return Math.round(info.mempoolminfee * 1e8);
    })();
    this.minFee = { at: performance.now(), value };
    value.catch(() => (this.minFee = undefined));
    return value;
  }

  private minFee: { at: number; value: Promise<number> } | undefined;

  /** The backend's known addresses (getnodeaddresses 0: all), kept `addrCacheMs` (net.cpp CConnman::GetAddresses). */
  async addresses(): Promise<NodeAddress[]> {
    if (this.addrSample && performance.now() - this.addrSample.at < this.addrCacheMs) return this.addrSample.addresses;
    this.addrLoad ??= (async () => {
      try {
        const r = await this.call('getnodeaddresses', [0]);
        const list = Array.isArray(r) ? r.map(parseNodeAddress).filter((a): a is NodeAddress => a !== undefined) : [];
        this.addrSample = { at: performance.now(), addresses: list };
        return list;
      } finally {
        this.addrLoad = undefined;
      }
    })();
    return this.addrLoad;
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      headerCacheEntries: this.headers.size,
      blockCacheBytes: this.blocks.bytes,
      blockCacheEntries: this.blocks.size,
      up: this.health.up ? 1 : 0,
      tipHeight: this.tip?.height ?? -1,
      longPollWakeups: this.longPollWakeups,
    };
  }
}

function headerBytes(raw: unknown): Uint8Array {
  if (typeof raw !== 'string' || !/^[0-9a-f]{160}$/.test(raw)) throw new Error('getblockheader: not an 80-byte header');
  return new Uint8Array(Buffer.from(raw, 'hex'));
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

function satPerKvB(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`getnetworkinfo: bad ${what}`);
  return Math.round(v * 1e8);
}

export function parseIdentity(net: unknown, chain: unknown): BackendIdentity {
  if (typeof net !== 'object' || net === null) throw new Error('getnetworkinfo: not an object');
  const n = net as Record<string, unknown>;
  const c = (typeof chain === 'object' && chain !== null ? chain : {}) as Record<string, unknown>;
  if (typeof n.protocolversion !== 'number' || !Number.isInteger(n.protocolversion)) throw new Error('getnetworkinfo: bad protocolversion');
  if (typeof n.subversion !== 'string' || n.subversion.length > 256) throw new Error('getnetworkinfo: bad subversion');
  if (typeof n.localservices !== 'string' || !/^[0-9a-f]{1,16}$/i.test(n.localservices))
    throw new Error('getnetworkinfo: bad localservices');
  return {
    protocolVersion: n.protocolversion,
    subversion: n.subversion,
    services: BigInt(`0x${n.localservices}`),
    relay: n.localrelay !== false,
    minRelayFee: satPerKvB(n.relayfee, 'relayfee'),
    incrementalFee: satPerKvB(n.incrementalfee, 'incrementalfee'),
    ibd: c.initialblockdownload === true,
  };
}

function parseNodeAddress(v: unknown): NodeAddress | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  if (typeof a.time !== 'number' || typeof a.services !== 'number' || typeof a.address !== 'string' || typeof a.port !== 'number')
    return undefined;
  return { time: a.time, services: BigInt(a.services), address: a.address, port: a.port, network: String(a.network ?? '') };
}
